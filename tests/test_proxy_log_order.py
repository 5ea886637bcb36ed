"""A client that has its whole response has its row in the spool: the proxy logs the call
before the response's last bytes leave, so a kill of the server after that loses nothing.
(A stream's last bytes are its terminating chunk, after upstream closed; an SDK that stops
reading at `data: [DONE]` has its answer a moment before that.)"""
import time

import httpx
import pytest

import proxy.app

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]


@pytest.fixture
def slow_logging(monkeypatch):
    """Logging that takes 0.4 s, and when it ended."""
    ended = []
    real = proxy.app._finish

    def finish(*args, **kwargs):
        time.sleep(0.4)  # blocks the event loop: nothing is sent meanwhile
        real(*args, **kwargs)
        ended.append(time.monotonic())

    monkeypatch.setattr(proxy.app, "_finish", finish)
    return ended


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_the_response_ends_only_after_its_row_is_logged(
    live_db, upstream, provider_keys, openai_client, api_key, slow_logging, stream
):
    if stream:
        with httpx.stream("POST", f"{openai_client.base_url}chat/completions", timeout=20,
                          headers={"Authorization": f"Bearer {openai_client.api_key}"},
                          json={"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}) as response:
            body = response.read()  # to the end of the response, as the kill tests' clients read
        assert b"[DONE]" in body
    else:
        assert openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices
    received = time.monotonic()
    assert len(slow_logging) == 1
    assert received >= slow_logging[0], "the client had its whole response before the row was logged"
