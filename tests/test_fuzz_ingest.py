"""Property-based fuzzing of the ingest API: any payload is either stored whole (every
trace and span it names is there afterwards) or refused with a JSON 4xx naming the
field; nothing is half-written and nothing is a 500, on SQLite and PostgreSQL alike."""
from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from spanlens.traces.models import Span, Trace

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Strings with what databases choke on: NUL, lone surrogates, long runs, escapes.
TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=10),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy", "\\", "'", "é" * 300, "\u2028", ""]),
)
TIMESTAMP = st.one_of(
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00", "2024-02-30T00:00:00Z",
                     "2026-01-01T00:00:00Z", "yesterday", ""]),
    TEXT, st.integers(),
)
NUMBER = st.one_of(
    st.integers(min_value=-10, max_value=10**25), st.sampled_from([2**31 - 1, 2**31, 2**63, 10**23]),
    st.floats(allow_nan=True, allow_infinity=True), st.decimals(allow_nan=False).map(str), TEXT, st.booleans(),
)
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT)
JSON_VALUE = st.recursive(
    JSON_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=12
)


def _nested(depth: int):
    value: object = 1
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


DEEP = st.integers(min_value=0, max_value=90).map(_nested)
ANY_JSON = st.one_of(JSON_VALUE, DEEP)
TRACE_IDS = [str(uuid.UUID(int=i + 1)) for i in range(4)]
ID = st.one_of(st.sampled_from(TRACE_IDS), st.uuids().map(str), TEXT, st.integers(), st.none())


def _record(fields: dict):
    return st.fixed_dictionaries({}, optional=fields)


TRACE = _record({
    "id": ID, "name": TEXT, "status": st.sampled_from(["running", "completed", "error", "done"]),
    "userId": TEXT, "sessionId": TEXT, "metadata": ANY_JSON, "startedAt": TIMESTAMP, "endedAt": TIMESTAMP,
})
SPAN = _record({
    "id": ID, "traceId": ID, "parentSpanId": ID, "name": TEXT,
    "spanType": st.sampled_from(["llm", "tool", "retrieval", "embedding", "custom", "other"]),
    "status": st.sampled_from(["running", "completed", "error"]), "input": ANY_JSON, "output": ANY_JSON,
    "metadata": ANY_JSON, "startedAt": TIMESTAMP, "endedAt": TIMESTAMP, "durationMs": NUMBER,
    "error": TEXT, "requestId": ID, "model": TEXT, "promptTokens": NUMBER, "completionTokens": NUMBER,
    "totalTokens": NUMBER, "costUsd": NUMBER,
})
# Well-formed records with awkward content, so that many batches are accepted and
# NUL, surrogates, edge numbers and deep JSON really reach the database.
IN_RANGE = st.datetimes(min_value=datetime(1900, 1, 2),
                        max_value=datetime(2299, 12, 30)).map(lambda d: d.isoformat() + "Z")
GOOD_TRACE = st.fixed_dictionaries({"id": st.sampled_from(TRACE_IDS)}, optional={
    "name": TEXT, "userId": TEXT, "sessionId": TEXT, "startedAt": IN_RANGE, "endedAt": IN_RANGE,
    "metadata": st.dictionaries(TEXT, JSON_VALUE, max_size=3),
})
GOOD_SPAN = st.fixed_dictionaries({"id": st.uuids().map(str), "traceId": st.sampled_from(TRACE_IDS)}, optional={
    "name": TEXT, "model": TEXT, "error": TEXT, "input": JSON_VALUE, "output": JSON_VALUE,
    "metadata": st.dictionaries(TEXT, JSON_VALUE, max_size=3), "startedAt": IN_RANGE, "endedAt": IN_RANGE,
    "promptTokens": st.integers(0, 2**31 - 1), "totalTokens": st.integers(0, 2**31 - 1),
    "durationMs": st.integers(0, 2**63 - 1), "costUsd": st.decimals(0, 10**6, places=8).map(str),
})
BATCH = st.one_of(
    st.fixed_dictionaries({}, optional={"traces": st.lists(TRACE, max_size=3) | JSON_LEAF,
                                        "spans": st.lists(SPAN, max_size=4) | JSON_LEAF}),
    st.fixed_dictionaries({"traces": st.lists(GOOD_TRACE, max_size=2), "spans": st.lists(GOOD_SPAN, max_size=3)}),
    ANY_JSON,
)


@pytest.fixture
def keyed(api_key):
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")


def _post(client: Client, path: str, payload) -> tuple[int, dict]:
    # Python's json writes NaN/Infinity literals and escapes lone surrogates: both reach the parser.
    response = client.post(path, json.dumps(payload), content_type="application/json")
    assert response.status_code < 500, (path, response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    if response.status_code >= 400:
        assert response.status_code in (400, 409, 413)
        assert body["success"] is False and isinstance(body["error"], str) and body["error"]
    else:
        assert body["success"] is True
    return response.status_code, body


def _ids(items, key: str) -> set[uuid.UUID]:
    found = set()
    for item in items if isinstance(items, list) else []:
        raw = item.get(key) if isinstance(item, dict) else None
        if raw is not None:
            found.add(uuid.UUID(str(raw)))
    return found


def _assert_stored(org, payload: dict) -> None:
    """Accepted means kept: every trace and span of the batch is in the database."""
    traces, spans = payload.get("traces") or [], payload.get("spans") or []
    trace_ids = _ids(traces, "id") | _ids(spans, "traceId")
    span_ids = _ids(spans, "id")
    assert set(Trace.objects.filter(organization=org, id__in=trace_ids).values_list("id", flat=True)) == trace_ids
    assert set(Span.objects.filter(organization=org, id__in=span_ids).values_list("id", flat=True)) == span_ids


@FUZZ
@given(payload=BATCH)
def test_any_ingest_batch_is_stored_whole_or_refused_with_a_json_4xx(keyed, org, payload):
    traces_before, spans_before = Trace.objects.count(), Span.objects.count()
    status, body = _post(keyed, "/api/v1/ingest", payload)
    event(f"status {status}")
    if status == 200:
        _assert_stored(org, payload)
    else:
        assert (Trace.objects.count(), Span.objects.count()) == (traces_before, spans_before)


@FUZZ
@given(items=st.one_of(st.lists(SPAN, max_size=3), SPAN, ANY_JSON))
def test_the_spans_endpoint_takes_one_or_a_list(keyed, org, items):
    status, _ = _post(keyed, "/api/v1/spans", items)
    if status == 200:
        _assert_stored(org, {"spans": items if isinstance(items, list) else [items]})


@FUZZ
@given(items=st.one_of(st.lists(TRACE, max_size=3), TRACE, ANY_JSON))
def test_the_traces_endpoint_takes_one_or_a_list(keyed, org, items):
    status, _ = _post(keyed, "/api/v1/traces", items)
    if status == 200:
        _assert_stored(org, {"traces": items if isinstance(items, list) else [items]})
