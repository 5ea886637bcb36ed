"""What the proxy keeps, forwards and forgets: keys, Spanlens headers, body modes,
the 64 KB cap, sampling, and tenant scoping of the rows it writes."""
import json
from decimal import Decimal

import openai
import pytest

from spanlens.requestlog import queries
from tests import mock_upstream as mock

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
CAP = 64 * 1024

# Keys that slip into a prompt, one per masked pattern, each with its expected mask.
LEAKED = {
    "sk-proj-AbCdEfGhIjKlMnOpQrSt1234": "sk-proj-***",
    "sk-ant-api03-AbCdEfGhIjKlMnOp5678": "sk-ant-***",
    "sk-AbCdEfGhIjKlMnOpQrStUv9012": "sk-***",
    "AIzaSyAbCdEfGhIjKlMnOpQrStUv": "AIza***",
    "sl_live_AbCdEfGhIjKlMnOpQrSt": "sl_live_***",
}


def test_keys_in_a_prompt_are_masked_in_the_log_but_reach_the_provider_intact(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    prompt = "Debug this config: " + " ; ".join(LEAKED)
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])

    assert upstream.last().json["messages"][0]["content"] == prompt
    [row] = read_rows(org.id, expect=1)
    stored = json.loads(row["request_body"])["messages"][0]["content"]
    for secret, masked in LEAKED.items():
        assert secret not in row["request_body"]
        assert masked in stored
    assert stored.startswith("Debug this config: ")


def test_a_key_in_a_reply_is_masked_in_the_log_but_reaches_the_client_intact(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    completion = openai_client.chat.completions.create(model="gpt-4o-mini+echo-key", messages=MESSAGES)

    assert mock.LEAKED_KEY in completion.choices[0].message.content
    [row] = read_rows(org.id, expect=1)
    assert mock.LEAKED_KEY not in row["response_body"]
    assert json.loads(row["response_body"])["choices"][0]["message"]["content"] == (
        "The config file says OPENAI_API_KEY=sk-proj-*** so use that."
    )


def test_a_key_in_a_streamed_reply_is_masked_in_the_reassembled_log(
    live_db, upstream, provider_keys, anthropic_client, org, read_rows
):
    with anthropic_client.messages.stream(model="claude-haiku-4-5+echo-key", max_tokens=64, messages=MESSAGES) as s:
        assert mock.LEAKED_KEY in "".join(s.text_stream)

    [row] = read_rows(org.id, expect=1)
    assert mock.LEAKED_KEY not in row["response_body"]
    assert "sk-proj-***" in json.loads(row["response_body"])["content"][0]["text"]


def test_a_key_in_a_provider_error_is_masked_in_the_logged_error(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(model="gpt-4o-mini+error-400+echo-key", messages=MESSAGES)
    assert mock.LEAKED_KEY in caught.value.response.json()["error"]["message"]

    [row] = read_rows(org.id, expect=1)
    assert "Key used: sk-proj-***" in row["error_message"]
    assert mock.LEAKED_KEY not in json.dumps(row)


def test_neither_the_spanlens_key_nor_spanlens_headers_reach_the_provider(
    live_db, upstream, provider_keys, openai_client, sl_key, org, read_rows
):
    openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        extra_headers={
            "x-spanlens-user": "user-42",
            "x-spanlens-session": "checkout-7",
            "x-spanlens-log-body": "full",
            "x-spanlens-sample": "keep",
            "x-spanlens-trace-id": "5b1f0c84-6a8e-4a8f-9d0b-2d7d3f6e9a11",
            "x-spanlens-span-id": "0e6f4c4c-0b7f-4a7b-8d5e-3a2c1b0a9f88",
            "openai-organization": "org-acme",
        },
    )

    sent = upstream.last()
    assert [h for h in sent.headers if h.startswith("x-spanlens")] == []
    assert sl_key not in json.dumps(sent.headers) + sent.path + json.dumps(sent.query) + sent.body.decode()
    assert sent.headers["authorization"] == f"Bearer {mock.OPENAI_KEY}"
    # Everything else the SDK sends goes through untouched.
    assert sent.headers["openai-organization"] == "org-acme"
    [row] = read_rows(org.id, expect=1)
    everything_stored = json.dumps(row)
    assert sl_key not in everything_stored
    assert mock.OPENAI_KEY not in everything_stored


def test_an_oversized_prompt_is_stored_capped_with_a_visible_marker(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    prompt = "lorem ipsum " * 10_000  # ~120 KB
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])

    assert upstream.last().json["messages"][0]["content"] == prompt  # the provider gets all of it
    [row] = read_rows(org.id, expect=1)
    stored = row["request_body"]
    assert CAP <= len(stored.encode()) <= CAP + 200
    assert stored.startswith('{"')
    assert "truncated" in stored[-200:].lower()
    assert row["prompt_tokens"] == 1200  # the cap touches storage only


def test_an_oversized_reply_is_stored_capped_but_reaches_the_client_whole(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    completion = openai_client.chat.completions.create(model="gpt-4o-mini+huge", messages=MESSAGES)

    assert len(completion.choices[0].message.content) == mock.HUGE_CHARS
    [row] = read_rows(org.id, expect=1)
    stored = row["response_body"]
    assert CAP <= len(stored.encode()) <= CAP + 200
    assert "truncated" in stored[-200:].lower()
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1200, 300)


def test_log_body_meta_drops_bodies_but_keeps_ids_tokens_and_cost(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        extra_headers={"x-spanlens-log-body": "meta", "x-spanlens-user": "user-42", "x-spanlens-session": "s-9"},
    )

    [row] = read_rows(org.id, expect=1)
    assert row["log_body"] == "meta"
    assert (row["request_body"], row["response_body"]) == ("", "")
    assert (row["user_id"], row["session_id"]) == ("user-42", "s-9")
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1200, 300, 1500)
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert Decimal(str(row["cost_usd"])) == Decimal("0.00036")


def test_log_body_none_also_drops_user_and_session_but_keeps_the_trace(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    trace_id = "5b1f0c84-6a8e-4a8f-9d0b-2d7d3f6e9a11"
    with openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        extra_headers={
            "x-spanlens-log-body": "none",
            "x-spanlens-user": "user-42",
            "x-spanlens-session": "s-9",
            "x-spanlens-trace-id": trace_id,
        },
    ) as stream:
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == mock.REPLY

    [row] = read_rows(org.id, expect=1)
    assert row["log_body"] == "none"
    assert (row["request_body"], row["response_body"]) == ("", "")
    assert row["user_id"] is None and row["session_id"] is None
    assert row["trace_id"] == trace_id  # structure stays, identity goes
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1200, 300)
    assert Decimal(str(row["cost_usd"])) == Decimal("0.00036")


def test_an_unknown_log_body_mode_is_refused_naming_the_header(
    live_db, upstream, provider_keys, openai_client
):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-spanlens-log-body": "everything"}
        )

    body = caught.value.response.json()
    assert body["success"] is False and "x-spanlens-log-body" in body["error"]
    assert upstream.requests == []


def test_a_call_sampled_out_is_answered_but_not_logged(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    dropped = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-spanlens-sample": "drop", "x-spanlens-user": "dropped"}
    )
    assert dropped.choices[0].message.content == mock.REPLY
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-spanlens-user": "kept"})

    rows = read_rows(org.id, expect=1)
    assert [row["user_id"] for row in rows] == ["kept"]


def test_sampling_errors_only_logs_failed_calls(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    only_errors = {"x-spanlens-sample": "errors"}
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=only_errors)
    with pytest.raises(openai.InternalServerError):
        openai_client.chat.completions.create(
            model="gpt-4o-mini+error-500", messages=MESSAGES, extra_headers=only_errors
        )

    rows = read_rows(org.id, expect=1)
    assert [row["status_code"] for row in rows] == [500]


def test_rows_are_visible_to_their_organization_only(
    live_db, upstream, provider_keys, openai_client, org, other_org_and_project, read_rows
):
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    [row] = read_rows(org.id, expect=1)
    other_org, _ = other_org_and_project
    assert read_rows(other_org.id) == []
    assert queries.get_request(organization_id=str(other_org.id), request_id=row["id"]) is None
