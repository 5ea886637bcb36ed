"""Anthropic Messages through the proxy with the official SDK."""
import json
from decimal import Decimal

import anthropic
import httpx
import pytest

from tests import mock_upstream as mock
from tests.costs import cost_of, usd

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]




def test_message_is_logged_with_dated_model_tokens_and_cost(
    live_db, upstream, provider_keys, anthropic_client, api_key, org, project, read_rows
):
    message = anthropic_client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=512,
        system="Answer in one sentence.",
        messages=MESSAGES,
        extra_headers={"x-spanlens-user": "user-42", "x-spanlens-session": "support-3"},
    )
    assert message.content[0].text == mock.REPLY
    assert message.model == "claude-haiku-4-5-20251001"

    sent = upstream.last()
    assert sent.path == "/v1/messages"
    assert mock.ANTHROPIC_KEY in (sent.headers.get("x-api-key"), sent.headers.get("authorization", "")[7:])
    assert sent.headers["anthropic-version"]
    assert sent.json["system"] == "Answer in one sentence."

    [row] = read_rows(org.id, expect=1)
    assert row["provider"] == "anthropic"
    assert row["project_id"] == str(project.id)
    assert row["api_key_id"] == str(api_key[0].id)
    assert row["provider_key_id"] == str(provider_keys["anthropic"].id)
    assert row["model"] == "claude-haiku-4-5-20251001"
    assert row["endpoint"].endswith("messages")
    assert row["stream"] is False
    assert row["status_code"] == 200
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1200, 300, 1500)
    assert (row["cache_read_tokens"], row["cache_write_tokens"]) == (0, 0)
    # claude-haiku-4-5: $1 in, $5 out per 1M tokens.
    assert cost_of(row) == usd((1200, "1"), (300, "5")) == Decimal("0.0027")
    assert 0 <= row["proxy_overhead_ms"] <= row["latency_ms"]
    assert (row["user_id"], row["session_id"]) == ("user-42", "support-3")
    assert row["truncated"] is False and row["error_message"] == ""
    stored_request = json.loads(row["request_body"])
    assert stored_request["messages"] == MESSAGES
    assert stored_request["system"] == "Answer in one sentence."
    stored = json.loads(row["response_body"])
    assert stored["type"] == "message"
    assert stored["content"] == [{"type": "text", "text": mock.REPLY}]


def test_cache_reads_and_writes_count_as_prompt_tokens_billed_at_their_own_rates(
    live_db, upstream, provider_keys, anthropic_client, org, read_rows
):
    message = anthropic_client.messages.create(model="claude-haiku-4-5+cached", max_tokens=512, messages=MESSAGES)
    assert message.usage.input_tokens == 200

    [row] = read_rows(org.id, expect=1)
    # Anthropic's input_tokens leaves out the cache; the row's prompt_tokens is gross.
    assert row["prompt_tokens"] == 200 + 2000 + 3000
    assert row["cache_write_tokens"] == 2000
    assert row["cache_read_tokens"] == 3000
    assert row["completion_tokens"] == 300
    assert row["total_tokens"] == 5500
    # $1 uncached in, $1.25 cache write, $0.10 cache read, $5 out per 1M.
    assert cost_of(row) == usd((200, "1"), (2000, "1.25"), (3000, "0.1"), (300, "5")) == Decimal("0.0045")


def test_streamed_message_is_logged_with_the_final_output_count_and_reassembled_text(
    live_db, upstream, provider_keys, anthropic_client, org, read_rows
):
    with anthropic_client.messages.stream(
        model="claude-haiku-4-5+cached", max_tokens=512, messages=MESSAGES
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == mock.REPLY
    assert final.usage.output_tokens == 300

    [row] = read_rows(org.id, expect=1)
    assert row["stream"] is True
    assert row["status_code"] == 200
    assert row["model"] == "claude-haiku-4-5-20251001"
    # Output comes from message_delta (300), not message_start's placeholder (1).
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (5200, 300, 5500)
    assert (row["cache_read_tokens"], row["cache_write_tokens"]) == (3000, 2000)
    assert cost_of(row) == Decimal("0.0045")
    assert row["truncated"] is False
    stored = json.loads(row["response_body"])
    assert stored["type"] == "message"
    assert stored["role"] == "assistant"
    assert stored["model"] == "claude-haiku-4-5-20251001"
    assert stored["content"] == [{"type": "text", "text": mock.REPLY}]
    assert stored["stop_reason"] == "end_turn"


def test_spanlens_key_in_the_x_api_key_header_works_too(
    live_db, spanlens_server, upstream, provider_keys, sl_key, org, read_rows
):
    # What curl users and older SDKs send.
    response = httpx.post(
        f"{spanlens_server.url}/proxy/anthropic/v1/messages",
        headers={"x-api-key": sl_key, "anthropic-version": "2023-06-01"},
        json={"model": "claude-haiku-4-5", "max_tokens": 64, "messages": MESSAGES},
    )
    assert response.status_code == 200
    assert response.json()["content"][0]["text"] == mock.REPLY

    sent = upstream.last()
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "sl_live_" not in json.dumps(sent.headers)
    [row] = read_rows(org.id, expect=1)
    assert row["completion_tokens"] == 300


def test_anthropic_beta_and_version_headers_reach_anthropic(
    live_db, upstream, provider_keys, anthropic_client
):
    anthropic_client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=64,
        messages=MESSAGES,
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
    )

    sent = upstream.last()
    assert sent.headers["anthropic-beta"] == "prompt-caching-2024-07-31"
    assert sent.headers["anthropic-version"]


@pytest.mark.parametrize(
    "status, error_class, error_type",
    [
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (529, anthropic.InternalServerError, "overloaded_error"),
    ],
)
def test_anthropic_errors_pass_through_in_anthropic_format_and_are_logged(
    live_db, upstream, provider_keys, anthropic_client, org, read_rows, status, error_class, error_type
):
    with pytest.raises(error_class) as caught:
        anthropic_client.messages.create(model=f"claude-haiku-4-5+error-{status}", max_tokens=64, messages=MESSAGES)

    assert caught.value.status_code == status
    assert caught.value.response.json()["error"]["type"] == error_type
    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == status
    assert row["provider"] == "anthropic"
    # The Error tab shows the provider's own words.
    assert caught.value.response.json()["error"]["message"] in row["error_message"]
    assert (row["prompt_tokens"], row["completion_tokens"]) == (0, 0)
    assert not cost_of(row)
