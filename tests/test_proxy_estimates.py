"""Streams that end before the provider's usage: tokens counted by us, offline, and the
row marked as estimated."""
import json
import socket

import bpe_openai

from proxy import tokens
from tests import mock_upstream as mock
from tests.costs import cost_of, usd

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]


def o200k(text: str) -> int:
    return len(bpe_openai.get_encoding("o200k_base").encode(text))


def test_an_abandoned_openai_stream_is_billed_on_estimated_tokens(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    stream = openai_client.chat.completions.create(model="gpt-4o-mini+slow-stream", messages=MESSAGES, stream=True)
    chunks = iter(stream)
    for _ in range(3):
        next(chunks)
    stream.close()

    [row] = read_rows(org.id, expect=1)
    received = json.loads(row["response_body"])["choices"][0]["message"]["content"]
    assert received and mock.reply_text({"slow-stream"}).startswith(received)
    assert row["cost_source"] == "estimated"
    # The prompt: the message texts plus OpenAI's per-message framing (3) and reply priming (3).
    assert row["prompt_tokens"] == o200k("user\nWhy is the sky blue?") + 3 + 3
    assert row["completion_tokens"] == o200k(received)
    assert cost_of(row) == usd((row["prompt_tokens"], "0.15"), (row["completion_tokens"], "0.6"))
    assert cost_of(row) > 0
    assert row["error_message"] == "Client disconnected before the stream ended."


def test_an_abandoned_anthropic_stream_keeps_the_reported_prompt_and_estimates_the_rest(
    live_db, upstream, provider_keys, anthropic_client, org, read_rows
):
    with anthropic_client.messages.stream(model="claude-haiku-4-5+slow-stream", max_tokens=64, messages=MESSAGES) as s:
        for i, _ in enumerate(s.text_stream):
            if i == 2:
                break

    [row] = read_rows(org.id, expect=1)
    received = json.loads(row["response_body"])["content"][0]["text"]
    assert row["cost_source"] == "estimated"
    assert row["prompt_tokens"] == mock.PROMPT_TOKENS  # message_start reported the input side
    assert row["completion_tokens"] == o200k(received)


def test_a_stream_from_a_server_that_never_reports_usage_is_estimated(
    live_db, spanlens_server, upstream, project, sl_key, org, read_rows
):
    import openai

    from spanlens.core import services
    services.add_provider_key(project, "custom", "", "vLLM", base_url=f"{upstream.url}/custom/v1", price_free=True)
    upstream.keys["custom"] = set()  # a server started without --api-key
    try:
        with openai.OpenAI(base_url=f"{spanlens_server.url}/proxy/custom/v1", api_key=sl_key, max_retries=0) as c:
            text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
                model="llama-3.1-8b", messages=MESSAGES, stream=True) if ch.choices)
    finally:
        upstream.keys["custom"] = {mock.COMPAT_KEYS["custom"]}
    assert text == mock.REPLY
    assert "stream_options" not in upstream.last().json  # not every server takes it

    [row] = read_rows(org.id, expect=1)
    assert (row["cost_source"], cost_of(row)) == ("estimated", 0)  # free: no price, key marked free
    assert row["completion_tokens"] == o200k(mock.REPLY)
    assert row["error_message"] == ""


def test_token_counting_needs_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network is off")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    tokens._encoding.cache_clear()
    try:
        assert tokens.count("Hello from the mock upstream.", "gpt-4o-mini") == o200k("Hello from the mock upstream.")
        assert tokens.count("hello", "gpt-3.5-turbo") == len(bpe_openai.get_encoding("cl100k_base").encode("hello"))
    finally:
        tokens._encoding.cache_clear()
