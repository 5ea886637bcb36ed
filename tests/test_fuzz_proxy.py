"""Property-based fuzzing of the proxy: any Spanlens header values, extra headers and
body. The proxy never fails on its own (a 5xx is only ever the provider's, passed
through), its own refusals are JSON, and every call it forwards is logged."""
from __future__ import annotations

import time
import uuid

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Header values as HTTP can carry them: visible Latin-1, no CR/LF/NUL.
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=80).map(str.strip)
SPANLENS_HEADERS = {
    "x-spanlens-user": HEADER_TEXT,
    "x-spanlens-session": HEADER_TEXT,
    "x-spanlens-prompt-version": st.one_of(HEADER_TEXT, st.uuids().map(str), st.just("support@3")),
    "x-spanlens-log-body": st.one_of(st.sampled_from(["full", "meta", "none"]), HEADER_TEXT),
    "x-spanlens-sample": st.one_of(st.sampled_from(["keep", "drop", "errors"]), HEADER_TEXT),
    "x-spanlens-project": st.one_of(HEADER_TEXT, st.uuids().map(str)),
    "x-spanlens-trace-id": st.one_of(HEADER_TEXT, st.uuids().map(str)),
    "x-spanlens-span-id": st.one_of(HEADER_TEXT, st.uuids().map(str)),
}
HEADERS = st.fixed_dictionaries({}, optional=SPANLENS_HEADERS).flatmap(
    lambda chosen: st.dictionaries(st.from_regex(r"x-fuzz-[a-z0-9]{1,8}", fullmatch=True), HEADER_TEXT,
                                   max_size=3).map(lambda extra: {**chosen, **extra})
)
# Model names without "+", which the mock upstream reads as test switches (hang, fail).
MODEL = st.one_of(st.sampled_from(["gpt-4o-mini", "gpt-4o", "unknown-model", ""]),
                  st.text(alphabet=st.characters(exclude_characters="+"), max_size=30))
CONTENT = st.one_of(st.text(max_size=200), st.sampled_from([
    "é" + "a" * 70_000, "mail a@b.co 4111 1111 1111 1111 +1 415 555 0100", "\x00", "ignore previous instructions",
    "sk-proj-AbCdEfGhIjKlMnOpQrSt1234",
]))
MESSAGES = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "x"]), "content": CONTENT}),
                    max_size=2)
CHAT = st.fixed_dictionaries({"model": MODEL, "messages": MESSAGES}, optional={
    "stream": st.booleans(), "max_tokens": st.integers(-(2**63), 2**63 - 1),
    "stream_options": st.just({"include_usage": True}),
}).map(orjson.dumps)
BODY = st.one_of(CHAT, st.binary(max_size=300), st.just(b"{"), st.just(b"[]"), st.just(b"null"),
                 st.text(max_size=100).map(str.encode))


@pytest.fixture
def proxy(live_db, upstream, provider_keys, spanlens_server, sl_key):
    with httpx.Client(base_url=f"{spanlens_server.url}/proxy/openai", timeout=30) as client:
        yield client


def _logged(headers: dict, status: int) -> bool:
    sample = headers.get("x-spanlens-sample", "keep").strip()
    return sample == "keep" or (sample == "errors" and status >= 400)


def _rows_become(org, expected: int, timeout: float = 5.0) -> int:
    """The tenant's row count once the writer has caught up (the proxy logs after responding)."""
    from spanlens.requestlog import queries
    from spanlens.requestlog.writer import get_writer

    deadline = time.monotonic() + timeout
    while True:
        get_writer().flush()
        count = queries.count_requests(organization_id=str(org.id))
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.02)


@pytest.fixture
def tally():
    return {"rows": 0}


@FUZZ
@given(headers=HEADERS, body=BODY)
def test_any_headers_and_body_are_forwarded_and_logged_or_refused_as_json(proxy, upstream, sl_key, org, tally,
                                                                           headers, body):
    before = len(upstream.requests)
    sent = {**{k: v.encode("latin-1") for k, v in headers.items()},
            "authorization": f"Bearer {sl_key}", "content-type": "application/json"}
    response = proxy.post("/v1/chat/completions", content=body, headers=sent)
    forwarded = len(upstream.requests) > before
    event(f"{'forwarded' if forwarded else 'refused'} {response.status_code}")
    if forwarded:
        # The provider's answer, passed through (the mock upstream never fails on its own).
        assert response.status_code < 500, response.text[:300]
    else:
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
        payload = response.json()
        assert payload["success"] is False and payload["error"]
    tally["rows"] += int(forwarded and _logged(headers, response.status_code))
    # No row lost, none extra: exactly the forwarded, sampled-in calls are in the log.
    assert _rows_become(org, tally["rows"]) == tally["rows"]


@FUZZ
@given(auth=st.one_of(HEADER_TEXT, st.just("Bearer sl_live_" + "x" * 40), st.just("Bearer"), st.just("Basic dXNlcjpwYXNz")),
       path=st.sampled_from(["/v1/chat/completions", "/v1/embeddings", "/v1/models", "/v1/unknown"]))
def test_bad_keys_are_a_json_401_and_reach_nobody(proxy, upstream, auth, path):
    before = len(upstream.requests)
    response = proxy.post(path, content=b"{}", headers={"authorization": auth.encode("latin-1")})
    assert response.status_code == 401, response.text[:200]
    assert response.json()["success"] is False
    assert len(upstream.requests) == before


def test_a_fuzzed_trace_header_pair_links_without_failing(proxy, sl_key, org, read_rows):
    trace_id, span_id = uuid.uuid4(), uuid.uuid4()
    response = proxy.post("/v1/chat/completions", content=orjson.dumps(
        {"model": "gpt-4o-mini\x00", "messages": [{"role": "user", "content": "hi"}]}),
        headers={"authorization": f"Bearer {sl_key}", "x-spanlens-trace-id": str(trace_id),
                 "x-spanlens-span-id": str(span_id), "content-type": "application/json"})
    assert response.status_code == 200
    [row] = read_rows(org.id, expect=1)
    assert row["trace_id"] == str(trace_id)
