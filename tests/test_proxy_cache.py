"""The response cache through the official SDKs: the second identical call with
`x-spanlens-cache: on` never reaches the provider, streamed or not, and is logged as a
hit that cost nothing and saved what the first call cost."""
from __future__ import annotations

import asyncio
import json
import os
import time
from decimal import Decimal

import anthropic
import httpx
import openai
import pytest
from django.db import connection

from proxy import cache
from spanlens.core import services
from spanlens.requestlog import queries
from tests import mock_upstream as mock
from tests.procs import database_url_for, web_server

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
ON = {"x-spanlens-cache": "on"}
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def chat_calls(upstream) -> int:
    return upstream.count(lambda r: r.path.endswith("/chat/completions"))


def test_the_second_identical_call_is_served_from_the_cache_and_logged_as_a_hit(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    first = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers=ON)
    assert first.headers["x-spanlens-cache"] == "miss"
    read_rows(org.id, expect=1)  # the answer is stored right after it left

    # Same request, keys in another order and a different `user`: the same answer.
    second = openai_client.chat.completions.with_raw_response.create(
        messages=MESSAGES, model="gpt-4o-mini", user="someone-else", extra_headers=ON)
    assert second.headers["x-spanlens-cache"] == "hit"
    assert second.parse().choices[0].message.content == mock.REPLY
    assert second.parse().id == first.parse().id
    assert chat_calls(upstream) == 1

    bought, served = read_rows(org.id, expect=2)
    assert bought["cache_hit"] is False and bought["cost_saved_usd"] is None
    assert served["cache_hit"] is True
    assert Decimal(str(served["cost_usd"])) == 0
    assert Decimal(str(served["cost_saved_usd"])) == Decimal(str(bought["cost_usd"])) > 0
    assert served["prompt_tokens"] == mock.PROMPT_TOKENS
    assert json.loads(served["response_body"])["choices"][0]["message"]["content"] == mock.REPLY

    hits = queries.list_requests(organization_id=str(org.id), cache_hit=True)
    assert [r["id"] for r in hits["rows"]] == [served["id"]]


def test_without_the_header_every_call_reaches_the_provider(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    for _ in range(2):
        raw = openai_client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
        assert "x-spanlens-cache" not in raw.headers
    assert chat_calls(upstream) == 2


def test_a_different_body_is_a_miss(live_db, upstream, provider_keys, openai_client, org, read_rows):
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=ON)
    read_rows(org.id, expect=1)
    other = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, temperature=0.2, extra_headers=ON)
    assert other.headers["x-spanlens-cache"] == "miss"
    assert chat_calls(upstream) == 2


def test_an_openai_stream_is_replayed_as_the_same_events(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    def text(chunks):
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    first = list(openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_headers=ON))
    read_rows(org.id, expect=1)
    with openai_client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_headers=ON
    ) as response:
        assert response.headers["x-spanlens-cache"] == "hit"
        second = list(response.parse())
    assert text(second) == text(first) == mock.REPLY
    # This client did not ask for usage: the usage-only chunk stays out of the replay too.
    assert all(c.usage is None for c in second)
    assert chat_calls(upstream) == 1

    # A client that asks for usage gets it from the same cached stream.
    with_usage = list(openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True},
        extra_headers=ON))
    assert with_usage[-1].usage.prompt_tokens == mock.PROMPT_TOKENS
    assert chat_calls(upstream) == 1

    _, served, _ = read_rows(org.id, expect=3)
    assert served["cache_hit"] is True and served["stream"] is True
    assert served["completion_tokens"] == mock.COMPLETION_TOKENS
    assert Decimal(str(served["cost_saved_usd"])) > 0


def test_an_anthropic_message_and_stream_are_served_from_the_cache(
    live_db, upstream, provider_keys, anthropic_client, org, read_rows
):
    messages = lambda: upstream.count(lambda r: r.path.endswith("/messages"))  # noqa: E731
    for _ in range(2):
        message = anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES,
                                                   extra_headers=ON)
        assert message.content[0].text == mock.REPLY
        read_rows(org.id)
    assert messages() == 1

    texts = []
    for _ in range(2):
        with anthropic_client.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES,
                                              extra_headers=ON) as stream:
            texts.append("".join(stream.text_stream))
            final = stream.get_final_message()
        read_rows(org.id)
    assert texts == [mock.REPLY, mock.REPLY]
    assert final.usage.output_tokens == mock.COMPLETION_TOKENS
    assert messages() == 2

    rows = read_rows(org.id, expect=4)
    assert [r["cache_hit"] for r in rows] == [False, True, False, True]


def test_refresh_calls_the_provider_and_replaces_the_entry(
    live_db, upstream, provider_keys, openai_client, org, read_rows
):
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES,
                                          extra_headers={**ON, "x-spanlens-cache-ttl": "1"})
    read_rows(org.id, expect=1, settle=0.1)
    refreshed = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-spanlens-cache": "refresh"})
    assert refreshed.headers["x-spanlens-cache"] == "miss"
    assert chat_calls(upstream) == 2
    # The first entry would be gone by now; the refreshed one (default TTL, 1 h) answers.
    time.sleep(1.2)
    served = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers=ON)
    assert served.headers["x-spanlens-cache"] == "hit"
    assert chat_calls(upstream) == 2


def test_an_entry_expires_after_its_ttl(live_db, upstream, provider_keys, openai_client, org, read_rows):
    short = {**ON, "x-spanlens-cache-ttl": "1s"}
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=short)
    read_rows(org.id, expect=1, settle=0.1)
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=short)
    assert chat_calls(upstream) == 1
    time.sleep(1.3)
    late = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers=short)
    assert late.headers["x-spanlens-cache"] == "miss"
    assert chat_calls(upstream) == 2


def test_error_responses_are_never_cached(live_db, upstream, provider_keys, openai_client, org, read_rows):
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            openai_client.chat.completions.create(model="gpt-4o-mini+error-500", messages=MESSAGES, extra_headers=ON)
        read_rows(org.id)
    assert chat_calls(upstream) == 2


def test_the_cache_is_per_project(live_db, upstream, provider_keys, openai_client, org, project, spanlens_server,
                                  read_rows):
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=ON)
    read_rows(org.id, expect=1)
    other = services.create_project(org, "Staging") if hasattr(services, "create_project") else None
    if other is None:
        pytest.skip("no create_project service")
    services.add_provider_key(other, "openai", mock.OPENAI_KEY, "OpenAI staging")
    raw = services.create_api_key(other).raw_key
    with openai.OpenAI(base_url=f"{spanlens_server.url}/proxy/openai/v1", api_key=raw, max_retries=0) as client:
        response = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers=ON)
    assert response.headers["x-spanlens-cache"] == "miss"
    assert chat_calls(upstream) == 2


@pytest.mark.parametrize("headers, field", [
    ({"x-spanlens-cache": "sometimes"}, "x-spanlens-cache"),
    ({"x-spanlens-cache": "on", "x-spanlens-cache-ttl": "31d"}, "x-spanlens-cache-ttl"),
    ({"x-spanlens-cache": "on", "x-spanlens-cache-ttl": "soon"}, "x-spanlens-cache-ttl"),
])
def test_bad_cache_headers_are_refused_naming_the_header(
    live_db, upstream, provider_keys, spanlens_server, sl_key, headers, field
):
    response = httpx.post(f"{spanlens_server.url}/proxy/openai/v1/chat/completions",
                          json={"model": "gpt-4o-mini", "messages": MESSAGES},
                          headers={"Authorization": f"Bearer {sl_key}", **headers})
    assert response.status_code == 400
    assert response.json()["success"] is False and field in response.json()["error"]
    assert chat_calls(upstream) == 0


def test_the_key_never_holds_a_provider_or_spanlens_key():
    key = cache.cache_key(project_id="p", provider="gemini", method="POST", path="v1beta/models/x:generateContent",
                          query_string=b"key=AIzaSecret&alt=sse", body=b"{}", parsed={})
    same = cache.cache_key(project_id="p", provider="gemini", method="POST", path="v1beta/models/x:generateContent",
                           query_string=b"alt=sse&key=AIzaOther", body=b"{}", parsed={})
    assert key == same and len(key) == 64 and "AIza" not in key


# --- the embedded default: a bounded SQLite file ------------------------------------------

@pytest.fixture
def disk_cache(settings, tmp_path):
    settings.REDIS_URL = ""
    settings.VAR_DIR = tmp_path
    cache.reset_store()
    yield cache.get_store()
    cache.reset_store()


def test_without_redis_hits_come_from_the_disk_store(
    disk_cache, live_db, upstream, provider_keys, openai_client, org, read_rows
):
    assert isinstance(disk_cache, cache.DiskStore)
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=ON)
    read_rows(org.id, expect=1)
    hit = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers=ON)
    assert hit.headers["x-spanlens-cache"] == "hit"
    assert chat_calls(upstream) == 1


def test_the_disk_store_evicts_the_least_recently_used_past_its_bound(tmp_path):
    store = cache.DiskStore(tmp_path / "c.sqlite3", max_bytes=3000)
    for name in ("a", "b", "c"):
        store.put(name, b"x" * 900, 60)
        time.sleep(0.01)
    assert asyncio.run(store.get("a"))  # a hit: remembered, written with the next store
    store.put("d", b"x" * 900, 60)
    kept = {k for (k,) in store._db().execute("SELECT key FROM entries")}
    assert kept == {"a", "c", "d"}


def test_purge_drops_expired_entries(tmp_path):
    store = cache.DiskStore(tmp_path / "c.sqlite3", max_bytes=10_000)
    store.put("old", b"x", 1)
    store.put("new", b"x", 60)
    store._db().execute("UPDATE entries SET expires = 0 WHERE key = 'old'")
    assert store.purge() == 1
    assert {k for (k,) in store._db().execute("SELECT key FROM entries")} == {"new"}


# --- two web processes share Redis ---------------------------------------------------------

@pytest.fixture
def two_servers(tmp_path, live_db, mock_upstream):
    if connection.vendor != "postgresql":
        pytest.skip("needs the real PostgreSQL (make test)")
    env = {
        "DATABASE_URL": database_url_for(connection.settings_dict["NAME"]),
        "REDIS_URL": REDIS,
        "OPENAI_BASE_URL": mock_upstream.url,
        "ENCRYPTION_KEY": os.environ["ENCRYPTION_KEY"],
    }
    with web_server(tmp_path / "a", **env) as a, web_server(tmp_path / "b", **env) as b:
        yield a, b


def test_an_answer_cached_by_one_process_is_served_by_the_other(two_servers, project, mock_upstream):
    a, b = two_servers
    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI prod")
    raw = services.create_api_key(project, "ci").raw_key
    mock_upstream.clear()
    clients = [openai.OpenAI(base_url=f"{base}/proxy/openai/v1", api_key=raw, max_retries=0) for base in (a, b)]
    first = clients[0].chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers=ON)
    assert first.headers["x-spanlens-cache"] == "miss"
    deadline = time.monotonic() + 3
    while True:
        second = clients[1].chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers=ON)
        if second.headers["x-spanlens-cache"] == "hit" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert second.headers["x-spanlens-cache"] == "hit"
    assert second.parse().id == first.parse().id
    for client in clients:
        client.close()


# --- /requests and the API filter on hits ---------------------------------------------------

@pytest.fixture
def hits_and_misses(org, project, other_org_and_project):
    from tests.seed import make_row

    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    mine = [make_row(org, project, created_at=now, cache_hit=True, cost_usd="0", cost_saved_usd="0.00036"),
            make_row(org, project)]
    other_org, other_project = other_org_and_project
    theirs = make_row(other_org, other_project, cache_hit=True, cost_usd="0", cost_saved_usd="0.001")
    queries.insert_requests([*mine, theirs])
    return mine, theirs


def test_the_requests_api_and_page_filter_on_cache_hits(owner, org, hits_and_misses):
    from django.test import Client

    (hit, miss), theirs = hits_and_misses
    client = Client()
    client.force_login(owner)
    body = client.get("/api/v1/requests?cacheHit=true").json()
    assert [r["id"] for r in body["data"]] == [hit["id"]]
    assert body["data"][0]["cache_hit"] is True
    assert [r["id"] for r in client.get("/api/v1/requests?cacheHit=false").json()["data"]] == [miss["id"]]

    page = client.get("/requests/?cacheHit=true").content.decode()
    assert hit["id"] in page and miss["id"] not in page and theirs["id"] not in page
    assert "data-cache-hit" in page
    stats = queries.get_request_stats(organization_id=str(org.id))
    assert stats["cache_hits"] == 1 and abs(stats["saved_usd"] - 0.00036) < 1e-9
    assert "cache saved $0.00036 · 1 hit" in client.get("/requests/?view=none").content.decode()

    refused = client.get("/api/v1/requests?cacheHit=maybe")
    assert refused.status_code == 400 and "cacheHit" in refused.json()["error"]
