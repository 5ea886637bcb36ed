"""When things go wrong: bad keys, provider errors, unreachable or silent providers,
streams cut short, and a request log that refuses writes."""
import io
import json
import socket
import time

import anthropic
import httpx
import openai
import pytest
from django.conf import settings
from django.core.management import call_command

from spanlens.core import services
from spanlens.core.models import RequestFallback
from spanlens.requestlog.writer import get_writer
from tests import mock_upstream as mock

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]


def spanlens_error(exc: openai.APIStatusError | anthropic.APIStatusError) -> str:
    """The proxy's own error body is {"success": false, "error": "..."}; returns the message."""
    body = exc.response.json()
    assert body["success"] is False
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_unknown_spanlens_key_gets_401_and_nothing_reaches_the_provider(
    live_db, spanlens_server, upstream, provider_keys
):
    client = openai.OpenAI(
        base_url=f"{spanlens_server.url}/proxy/openai/v1", api_key="sl_live_not-a-real-key-000000", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert caught.value.status_code == 401
    spanlens_error(caught.value)
    assert upstream.requests == []


def test_a_call_without_any_key_gets_401(live_db, spanlens_server, upstream, provider_keys):
    response = httpx.post(f"{spanlens_server.url}/proxy/openai/v1/chat/completions",
                          json={"model": "gpt-4o-mini", "messages": MESSAGES})

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert upstream.requests == []


def test_revoked_key_stops_working_at_once(
    live_db, spanlens_server, upstream, provider_keys, api_key, anthropic_client
):
    anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES)

    services.revoke_api_key(api_key[0])
    with pytest.raises(anthropic.AuthenticationError) as caught:
        anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES)

    assert caught.value.status_code == 401
    assert "revoked" in spanlens_error(caught.value).lower()
    assert len(upstream.requests) == 1


def test_missing_provider_key_gets_400_naming_the_key_to_add(
    live_db, upstream, openai_client, anthropic_client
):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert "openai" in spanlens_error(caught.value).lower()

    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES)
    assert "anthropic" in spanlens_error(caught.value).lower()

    assert upstream.requests == []


def test_upstream_rate_limit_passes_through_with_its_body_and_is_logged(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    with pytest.raises(openai.RateLimitError) as caught:
        openai_client.chat.completions.create(model="gpt-4o-mini+error-429", messages=MESSAGES)

    error = caught.value.response.json()
    assert error["error"]["code"] == "rate_limit_exceeded"  # OpenAI's body, untouched
    [row] = read_rows(org.id, expect=1)
    assert row["provider"] == "openai"
    assert row["status_code"] == 429
    assert error["error"]["message"] in row["error_message"]
    assert json.loads(row["response_body"]) == error
    assert json.loads(row["request_body"])["messages"] == MESSAGES
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (0, 0, 0)
    assert not row["cost_usd"]
    assert row["latency_ms"] >= row["proxy_overhead_ms"]


def test_upstream_server_error_passes_through_and_is_logged(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    with pytest.raises(openai.InternalServerError) as caught:
        openai_client.chat.completions.create(model="gpt-4o-mini+error-500", messages=MESSAGES)

    assert caught.value.status_code == 500
    assert caught.value.response.json()["error"]["type"] == "server_error"
    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 500
    assert "The server had an error" in row["error_message"]


def test_unreachable_upstream_gets_502_json_and_is_logged(
    live_db, upstream, provider_keys, openai_client, org, read_rows, monkeypatch
):
    monkeypatch.setitem(settings.UPSTREAM_BASE_URLS, "openai", closed_port_url())

    with pytest.raises(openai.APIStatusError) as caught:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert caught.value.status_code == 502
    spanlens_error(caught.value)
    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 502
    assert row["provider"] == "openai"
    assert row["error_message"]
    assert json.loads(row["request_body"])["messages"] == MESSAGES


def test_upstream_that_never_answers_gets_504_after_the_header_timeout(
    live_db, upstream, provider_keys, openai_client, org, read_rows, monkeypatch
):
    monkeypatch.setattr(settings, "UPSTREAM_HEADERS_TIMEOUT_S", 1.0)

    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client.chat.completions.create(model="gpt-4o-mini+never-respond", messages=MESSAGES)
    elapsed = time.monotonic() - started

    assert caught.value.status_code == 504
    spanlens_error(caught.value)
    assert 1.0 <= elapsed < 5
    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 504
    assert row["error_message"]
    assert row["latency_ms"] >= 1000
    # The proxy gave up on the provider too, not just on answering the client.
    assert upstream.wait_for(lambda: upstream.last().aborted, timeout=3)


def test_stream_cut_at_the_deadline_is_logged_as_truncated_with_the_partial_body(
    live_db, upstream, provider_keys, openai_client, org, read_rows, monkeypatch
):
    monkeypatch.setattr(settings, "STREAM_DEADLINE_S", 1.0)
    full_text = mock.reply_text({"slow-stream"})

    started = time.monotonic()
    received = []
    try:
        for chunk in openai_client.chat.completions.create(
            model="gpt-4o-mini+slow-stream", messages=MESSAGES, stream=True
        ):
            received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    except (httpx.HTTPError, openai.APIError):
        pass  # how the cut shows on the wire is not the point; what got logged is
    elapsed = time.monotonic() - started
    text = "".join(received)

    assert elapsed < 3  # the whole stream would take about 5 s
    assert text and full_text.startswith(text) and text != full_text
    [row] = read_rows(org.id, expect=1)
    assert row["truncated"] is True
    assert row["stream"] is True
    assert row["status_code"] == 200
    stored = json.loads(row["response_body"])["choices"][0]["message"]["content"]
    assert stored and full_text.startswith(stored) and stored != full_text


def test_client_hanging_up_mid_stream_logs_what_was_received_and_stops_the_upstream_call(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    full_text = mock.reply_text({"slow-stream"})
    stream = openai_client.chat.completions.create(model="gpt-4o-mini+slow-stream", messages=MESSAGES, stream=True)
    chunks = iter(stream)
    got = "".join(next(chunks).choices[0].delta.content or "" for _ in range(4))
    stream.close()

    assert got and full_text.startswith(got)
    assert upstream.wait_for(lambda: upstream.last().aborted, timeout=3)
    [row] = read_rows(org.id, expect=1)
    assert row["stream"] is True
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    stored = json.loads(row["response_body"])["choices"][0]["message"]["content"]
    assert stored.startswith(got) and full_text.startswith(stored) and stored != full_text
    assert row["latency_ms"] < (mock.SLOW_CHUNKS - 1) * mock.SLOW_CHUNK_DELAY_S * 1000


def test_rows_clickhouse_refuses_go_to_the_fallback_queue_and_drain_later(
    live_db, upstream, provider_keys, openai_client, org, read_rows, monkeypatch
):
    from spanlens.requestlog import queries

    def refuse(rows):
        raise RuntimeError("ClickHouse is down")

    calls = 3
    with monkeypatch.context() as patched:
        patched.setattr(queries, "insert_requests", refuse)
        for _ in range(calls):
            openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        deadline = time.monotonic() + 10
        while RequestFallback.objects.count() < calls and time.monotonic() < deadline:
            get_writer().flush()
            time.sleep(0.05)
        get_writer().flush()
        assert RequestFallback.objects.count() == calls
        assert read_rows(org.id) == []

    output = io.StringIO()
    call_command("drain_fallback", stdout=output)
    assert f"Wrote {calls} rows" in output.getvalue()

    rows = read_rows(org.id, expect=calls)
    assert len(rows) == calls
    assert len({row["id"] for row in rows}) == calls
    assert all(row["total_tokens"] == 1500 and row["model"] == "gpt-4o-mini-2024-07-18" for row in rows)
    assert RequestFallback.objects.count() == 0


def test_a_wrong_provider_key_gets_the_providers_own_401_and_is_logged(
    live_db, upstream, project, openai_client, org, read_rows
):
    key = services.add_provider_key(project, "openai", "sk-proj-expiredupstreamkey00000000", "old")

    with pytest.raises(openai.AuthenticationError) as caught:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    # OpenAI's body, not Spanlens's: the user can tell which key was refused.
    assert caught.value.response.json()["error"]["code"] == "invalid_api_key"
    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 401
    assert row["provider_key_id"] == str(key.id)
    assert "Incorrect API key provided" in row["error_message"]
    assert "sk-proj-expiredupstreamkey00000000" not in json.dumps(row)


def test_a_streaming_call_the_provider_refuses_passes_the_error_through(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    with pytest.raises(openai.RateLimitError) as caught:
        list(openai_client.chat.completions.create(model="gpt-4o-mini+error-429", messages=MESSAGES, stream=True))

    assert caught.value.response.json()["error"]["code"] == "rate_limit_exceeded"
    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 429
    assert "Rate limit reached" in row["error_message"]
    assert (row["prompt_tokens"], row["completion_tokens"]) == (0, 0)


def test_an_unknown_provider_gets_404_json(live_db, spanlens_server, sl_key):
    response = httpx.post(
        f"{spanlens_server.url}/proxy/cohere/v1/chat/completions",
        headers={"authorization": f"Bearer {sl_key}"},
        json={"model": "command-r", "messages": MESSAGES},
    )

    assert response.status_code == 404
    assert response.json()["success"] is False
    assert "cohere" in response.json()["error"]
