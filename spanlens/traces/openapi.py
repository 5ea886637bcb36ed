"""The traces API in the OpenAPI document (see spanlens.openapi)."""
from __future__ import annotations

from spanlens.openapi.schema import (
    ANY, DATETIME, INTEGER, OBJECT, PAGE, PAGE_META, STRING, UUID, array, enum, nullable, obj, op, path, query,
)

TAG = "Traces"
STATUS = enum("running", "completed", "error")
SPAN_TYPE = enum("llm", "tool", "retrieval", "embedding", "custom")

TRACE_IN = obj({
    "id": UUID, "name": STRING, "status": STATUS, "user_id": nullable(STRING), "session_id": nullable(STRING),
    "metadata": nullable(OBJECT), "started_at": nullable(DATETIME), "ended_at": nullable(DATETIME),
}, required=["id"])
SPAN_IN = obj({
    "id": UUID, "trace_id": UUID, "parent_span_id": nullable(UUID), "name": STRING, "span_type": SPAN_TYPE,
    "status": STATUS, "input": ANY, "output": ANY, "metadata": nullable(OBJECT), "started_at": nullable(DATETIME),
    "ended_at": nullable(DATETIME), "error": nullable(STRING), "model": nullable(STRING),
    "prompt_tokens": nullable(INTEGER), "completion_tokens": nullable(INTEGER), "total_tokens": nullable(INTEGER),
    "cost_usd": ANY,
}, required=["id", "trace_id"])

TRACE = obj({
    "id": UUID, "project_id": nullable(UUID), "name": STRING, "status": STRING, "user_id": nullable(STRING),
    "session_id": nullable(STRING), "metadata": ANY, "started_at": nullable(STRING), "ended_at": nullable(STRING),
    "span_count": INTEGER, "total_tokens": INTEGER, "total_cost_usd": STRING, "duration_ms": nullable(INTEGER),
}, required=["id", "name", "status"])
SPAN = obj({
    "id": UUID, "trace_id": UUID, "parent_span_id": nullable(UUID), "name": STRING, "span_type": STRING,
    "status": STRING, "input": ANY, "output": ANY, "metadata": ANY, "started_at": nullable(STRING),
    "ended_at": nullable(STRING), "duration_ms": nullable(INTEGER), "error": nullable(STRING),
    "request_id": nullable(UUID), "model": nullable(STRING), "prompt_tokens": nullable(INTEGER),
    "completion_tokens": nullable(INTEGER), "total_tokens": nullable(INTEGER), "cost_usd": nullable(STRING),
}, required=["id", "trace_id", "name"])
COUNTS = obj({"traces": INTEGER, "spans": INTEGER}, required=["traces", "spans"])
INGEST_ERRORS = (400, 409, 413)


def _one_or_many(schema):
    return {"oneOf": [schema, array(schema, maxItems=1000)]}


PATHS = {
    "/api/v1/ingest": {
        "post": op("Send traces and spans in one batch (what the SDK sends)", tag=TAG,
                   description="Idempotent upserts; spans may arrive before their parents or their trace; a field "
                               "left out or null never erases a stored value. Needs the `ingest` scope.",
                   body=obj({"traces": array(TRACE_IN), "spans": array(SPAN_IN)}), data=COUNTS,
                   errors=INGEST_ERRORS),
    },
    "/api/v1/traces": {
        "get": op("List traces", tag=TAG, data=array(TRACE), meta=PAGE_META, errors=(400,), params=[
            query("status", "running, completed or error"), query("name", "the trace name"),
            query("userId", "your end user's id"), query("sessionId", "the session id"),
            query("from", "ISO 8601, inclusive"), query("to", "ISO 8601, exclusive"),
            query("sort", "started_at, name, status, duration, spans, tokens or cost; prefix - for descending"),
            *PAGE]),
        "post": op("Send one trace or a list", tag=TAG, body=_one_or_many(TRACE_IN), data=COUNTS,
                   errors=INGEST_ERRORS),
    },
    "/api/v1/traces/{trace_id}": {
        "get": op("A trace with its spans", tag=TAG, params=[path("trace_id", "the trace's id")],
                  data=obj({**TRACE["properties"], "spans": array(SPAN)}, required=["id", "spans"]),
                  meta=obj({"span_count": INTEGER}), errors=(404,)),
    },
    "/api/v1/spans": {
        "post": op("Send one span or a list", tag=TAG, body=_one_or_many(SPAN_IN), data=COUNTS,
                   errors=INGEST_ERRORS),
    },
}
