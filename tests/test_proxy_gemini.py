"""Gemini generateContent through the proxy, called over plain HTTP as the REST docs show."""
import json
from decimal import Decimal

import httpx

from tests import mock_upstream as mock
from tests.costs import cost_of, usd

CONTENTS = {"contents": [{"role": "user", "parts": [{"text": "Why is the sky blue?"}]}]}




def gemini_url(server, model: str, method: str = "generateContent") -> str:
    return f"{server.url}/proxy/gemini/v1beta/models/{model}:{method}"


def sse_payloads(text: str) -> list[dict]:
    events = text.replace("\r\n", "\n").split("\n\n")
    return [json.loads(e[len("data: "):]) for e in events if e.startswith("data: ")]


def test_generate_content_with_the_key_in_a_header_is_logged_with_tokens_and_cost(
    live_db, spanlens_server, upstream, provider_keys, sl_key, api_key, org, project, read_rows
):
    response = httpx.post(
        gemini_url(spanlens_server, "gemini-2.5-flash"),
        headers={"x-goog-api-key": sl_key, "x-spanlens-user": "user-42", "x-spanlens-session": "s-1"},
        json=CONTENTS,
    )
    assert response.status_code == 200
    assert response.json()["candidates"][0]["content"]["parts"][0]["text"] == mock.REPLY

    sent = upstream.last()
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert mock.GEMINI_KEY in (sent.headers.get("x-goog-api-key"), sent.query.get("key"))
    assert sent.json == CONTENTS

    [row] = read_rows(org.id, expect=1)
    assert row["provider"] == "gemini"
    assert row["project_id"] == str(project.id)
    assert row["api_key_id"] == str(api_key[0].id)
    assert row["provider_key_id"] == str(provider_keys["gemini"].id)
    assert row["model"] == "gemini-2.5-flash"
    assert "generateContent" in row["endpoint"]
    assert row["stream"] is False
    assert row["status_code"] == 200
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1200, 300, 1500)
    assert (row["cache_read_tokens"], row["cache_write_tokens"]) == (0, 0)
    # gemini-2.5-flash: $0.30 in, $2.50 out per 1M tokens.
    assert cost_of(row) == usd((1200, "0.3"), (300, "2.5")) == Decimal("0.00111")
    assert 0 <= row["proxy_overhead_ms"] <= row["latency_ms"]
    assert (row["user_id"], row["session_id"]) == ("user-42", "s-1")
    assert json.loads(row["request_body"]) == CONTENTS
    assert json.loads(row["response_body"])["usageMetadata"]["totalTokenCount"] == 1500


def test_key_in_the_query_string_is_replaced_and_never_forwarded(
    live_db, spanlens_server, upstream, provider_keys, sl_key, org, read_rows
):
    response = httpx.post(gemini_url(spanlens_server, "gemini-2.5-flash"), params={"key": sl_key}, json=CONTENTS)
    assert response.status_code == 200

    sent = upstream.last()
    assert "sl_live_" not in json.dumps(sent.query)
    assert "sl_live_" not in json.dumps(sent.headers)
    assert mock.GEMINI_KEY in (sent.headers.get("x-goog-api-key"), sent.query.get("key"))
    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 200
    assert sl_key not in row["request_body"] + row["endpoint"]


def test_context_cache_tokens_are_billed_at_the_cache_read_rate(
    live_db, spanlens_server, upstream, provider_keys, sl_key, org, read_rows
):
    response = httpx.post(
        gemini_url(spanlens_server, "gemini-2.5-flash+cached"), headers={"x-goog-api-key": sl_key}, json=CONTENTS
    )
    assert response.json()["usageMetadata"]["cachedContentTokenCount"] == mock.GEMINI_CACHED_TOKENS

    [row] = read_rows(org.id, expect=1)
    assert row["prompt_tokens"] == 1200  # promptTokenCount already includes the cached part
    assert row["cache_read_tokens"] == 1000
    assert row["total_tokens"] == 1500
    # 200 uncached at $0.30, 1000 cached at $0.03, 300 out at $2.50.
    assert cost_of(row) == usd((200, "0.3"), (1000, "0.03"), (300, "2.5")) == Decimal("0.00084")


def test_streamed_generate_content_is_logged_with_the_final_usage_and_joined_text(
    live_db, spanlens_server, upstream, provider_keys, sl_key, org, read_rows
):
    with httpx.stream(
        "POST",
        gemini_url(spanlens_server, "gemini-2.5-flash", "streamGenerateContent"),
        params={"alt": "sse"},
        headers={"x-goog-api-key": sl_key},
        json=CONTENTS,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = response.read().decode()
    chunks = sse_payloads(body)
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == mock.REPLY
    assert upstream.last().query["alt"] == "sse"

    [row] = read_rows(org.id, expect=1)
    assert row["stream"] is True
    assert row["model"] == "gemini-2.5-flash"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1200, 300, 1500)
    assert cost_of(row) == Decimal("0.00111")
    stored = json.loads(row["response_body"])
    parts = stored["candidates"][0]["content"]["parts"]
    assert "".join(p["text"] for p in parts) == mock.REPLY
    assert stored["usageMetadata"]["candidatesTokenCount"] == 300


def test_gemini_errors_pass_through_in_google_format_and_are_logged(
    live_db, spanlens_server, upstream, provider_keys, sl_key, org, read_rows
):
    response = httpx.post(
        gemini_url(spanlens_server, "gemini-2.5-flash+error-429"), headers={"x-goog-api-key": sl_key}, json=CONTENTS
    )
    assert response.status_code == 429
    assert response.json()["error"]["status"] == "RESOURCE_EXHAUSTED"

    [row] = read_rows(org.id, expect=1)
    assert row["status_code"] == 429
    assert "Resource has been exhausted" in row["error_message"]
    assert (row["prompt_tokens"], row["completion_tokens"]) == (0, 0)
    assert json.loads(row["response_body"]) == response.json()


def test_stream_without_alt_sse_is_logged_from_the_json_array_gemini_sends(
    live_db, spanlens_server, upstream, provider_keys, sl_key, org, read_rows
):
    # Without ?alt=sse Gemini streams one JSON array, element by element.
    response = httpx.post(
        gemini_url(spanlens_server, "gemini-2.5-flash", "streamGenerateContent"),
        headers={"x-goog-api-key": sl_key},
        json=CONTENTS,
    )
    assert response.status_code == 200
    chunks = response.json()
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == mock.REPLY

    [row] = read_rows(org.id, expect=1)
    assert row["stream"] is True
    assert row["model"] == "gemini-2.5-flash"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1200, 300, 1500)
    assert cost_of(row) == Decimal("0.00111")
    parts = json.loads(row["response_body"])["candidates"][0]["content"]["parts"]
    assert "".join(p["text"] for p in parts) == mock.REPLY


def test_a_call_with_no_key_anywhere_gets_401(live_db, spanlens_server, upstream, provider_keys):
    response = httpx.post(gemini_url(spanlens_server, "gemini-2.5-flash"), json=CONTENTS)

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert upstream.requests == []
