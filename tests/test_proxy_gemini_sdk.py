"""Gemini through the proxy with Google's official google-genai SDK."""
from decimal import Decimal

from google import genai
from google.genai import types

from tests import mock_upstream as mock


def sdk(server, key) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=f"{server.url}/proxy/gemini"))


def test_google_genai_sdk_call_is_logged_with_tokens_and_cost(
    live_db, spanlens_server, upstream, provider_keys, sl_key, org, read_rows
):
    client = sdk(spanlens_server, sl_key)  # keep it referenced: the SDK closes on collection
    reply = client.models.generate_content(model="gemini-2.5-flash", contents="Why is the sky blue?")
    assert reply.text == mock.REPLY

    [row] = read_rows(org.id, expect=1)
    assert (row["provider"], row["model"], row["status_code"]) == ("gemini", "gemini-2.5-flash", 200)
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1200, 300, 1500)
    # gemini-2.5-flash: 0.3 in / 2.5 out per 1M.
    assert Decimal(str(row["cost_usd"])) == Decimal("0.00111")
    forwarded = upstream.last()
    assert forwarded.headers.get("x-goog-api-key") not in (None, sl_key)


def test_google_genai_sdk_stream_is_passed_through_and_logged(
    live_db, spanlens_server, upstream, provider_keys, sl_key, org, read_rows
):
    client = sdk(spanlens_server, sl_key)
    chunks = list(client.models.generate_content_stream(
        model="gemini-2.5-flash", contents="Why is the sky blue?"))
    assert "".join(c.text or "" for c in chunks) == mock.REPLY

    [row] = read_rows(org.id, expect=1)
    assert row["stream"] is True
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1200, 300)
