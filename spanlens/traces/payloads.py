"""Parsing of ingest payloads: raw JSON in, clean dicts out, or PayloadError naming the field.

A whole batch is checked before anything is written, so a bad item rejects the
batch with a 400 instead of leaving half of it stored. Keys may be snake_case
or camelCase (traceId, parentSpanId…). A null or missing value means
"unknown": it never erases what an earlier write stored.

What the database cannot hold is refused or made storable here, the same on
SQLite and PostgreSQL: numbers beyond their column's range and JSON nested
deeper than MAX_DEPTH are a 400; NUL characters (which PostgreSQL text and
jsonb refuse) are dropped from every string, and lone UTF-16 surrogates
become U+FFFD, so captured tool output with either still arrives.
"""
from __future__ import annotations

import math
import uuid
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

TRACE_STATUSES = ("running", "completed", "error")
SPAN_TYPES = ("llm", "tool", "retrieval", "embedding", "custom")
MAX_NAME = 200
MAX_BATCH = 1000
MAX_DEPTH = 64
MAX_TOKENS = 2_147_483_647  # the token columns are 32-bit on PostgreSQL
MAX_DURATION_MS = 9_223_372_036_854_775_807
MAX_COST_USD = Decimal(1_000_000)  # per span; traces sum them in an 18-digit column
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2299, 12, 31, 23, 59, 59, tzinfo=timezone.utc)

_ALIASES = {
    "traceId": "trace_id",
    "parentSpanId": "parent_span_id",
    "spanType": "span_type",
    "type": "span_type",
    "userId": "user_id",
    "sessionId": "session_id",
    "startedAt": "started_at",
    "endedAt": "ended_at",
    "durationMs": "duration_ms",
    "requestId": "request_id",
    "promptTokens": "prompt_tokens",
    "completionTokens": "completion_tokens",
    "totalTokens": "total_tokens",
    "costUsd": "cost_usd",
}


class PayloadError(ValueError):
    pass


def _normalise(raw: Any, where: str) -> dict:
    if not isinstance(raw, dict):
        raise PayloadError(f"{where}: must be an object")
    return {_ALIASES.get(k, k): v for k, v in raw.items()}


def _uuid(value: Any, field: str, required: bool = False) -> uuid.UUID | None:
    if value is None:
        if required:
            raise PayloadError(f"{field}: is required")
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise PayloadError(f"{field}: must be a UUID") from None


def _timestamp(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field}: must be an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{field}: must be an ISO 8601 timestamp") from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if not EARLIEST <= parsed <= LATEST:
        raise PayloadError(f"{field}: must be between 1900-01-01 and 2299-12-31")
    return parsed


def storable(value: str) -> str:
    """value without NUL characters and with lone surrogates replaced."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _text(value: Any, field: str, limit: int = MAX_NAME) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field}: must be a string")
    return storable(value)[:limit]


def _json(value: Any, field: str, depth: int = 0) -> Any:
    """A JSON value made storable, or PayloadError when it nests deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise PayloadError(f"{field}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): _json(v, field, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v, field, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise PayloadError(f"{field}: numbers must be finite")
    return value


def _choice(value: Any, field: str, choices: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value not in choices:
        raise PayloadError(f"{field}: must be one of {', '.join(choices)}")
    return value


def _count(value: Any, field: str, maximum: int = MAX_TOKENS) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError(f"{field}: must be a non-negative integer")
    if value > maximum:
        raise PayloadError(f"{field}: must be at most {maximum}")
    return value


def _money(value: Any, field: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise PayloadError(f"{field}: must be a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PayloadError(f"{field}: must be a number") from None
    if not amount.is_finite() or amount < 0:
        raise PayloadError(f"{field}: must be a non-negative number")
    if amount > MAX_COST_USD:
        raise PayloadError(f"{field}: must be at most {MAX_COST_USD}")
    return amount.quantize(Decimal("0.00000001"))


def _object(value: Any, field: str) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PayloadError(f"{field}: must be an object")
    return _json(value, field)


def _drop_unknown(values: dict) -> dict:
    return {k: v for k, v in values.items() if v is not None}


def parse_trace(raw: Any, where: str = "trace") -> dict:
    data = _normalise(raw, where)
    return _drop_unknown(
        {
            "id": _uuid(data.get("id"), f"{where}.id", required=True),
            "name": _text(data.get("name"), f"{where}.name"),
            "status": _choice(data.get("status"), f"{where}.status", TRACE_STATUSES),
            "user_id": _text(data.get("user_id"), f"{where}.user_id"),
            "session_id": _text(data.get("session_id"), f"{where}.session_id"),
            "metadata": _object(data.get("metadata"), f"{where}.metadata"),
            "started_at": _timestamp(data.get("started_at"), f"{where}.started_at"),
            "ended_at": _timestamp(data.get("ended_at"), f"{where}.ended_at"),
        }
    )


def parse_span(raw: Any, where: str = "span") -> dict:
    data = _normalise(raw, where)
    parsed = _drop_unknown(
        {
            "id": _uuid(data.get("id"), f"{where}.id", required=True),
            "trace_id": _uuid(data.get("trace_id"), f"{where}.trace_id", required=True),
            "parent_span_id": _uuid(data.get("parent_span_id"), f"{where}.parent_span_id"),
            "name": _text(data.get("name"), f"{where}.name"),
            "span_type": _choice(data.get("span_type"), f"{where}.span_type", SPAN_TYPES),
            "status": _choice(data.get("status"), f"{where}.status", TRACE_STATUSES),
            # Any JSON value is a valid input or output.
            "input": _json(data.get("input"), f"{where}.input"),
            "output": _json(data.get("output"), f"{where}.output"),
            "metadata": _object(data.get("metadata"), f"{where}.metadata"),
            "started_at": _timestamp(data.get("started_at"), f"{where}.started_at"),
            "ended_at": _timestamp(data.get("ended_at"), f"{where}.ended_at"),
            "duration_ms": _count(data.get("duration_ms"), f"{where}.duration_ms", MAX_DURATION_MS),
            "error": _text(data.get("error"), f"{where}.error", limit=10_000),
            "request_id": _uuid(data.get("request_id"), f"{where}.request_id"),
            "model": _text(data.get("model"), f"{where}.model"),
            "prompt_tokens": _count(data.get("prompt_tokens"), f"{where}.prompt_tokens"),
            "completion_tokens": _count(data.get("completion_tokens"), f"{where}.completion_tokens"),
            "total_tokens": _count(data.get("total_tokens"), f"{where}.total_tokens"),
            "cost_usd": _money(data.get("cost_usd"), f"{where}.cost_usd"),
        }
    )
    if parsed.get("parent_span_id") == parsed["id"]:
        raise PayloadError(f"{where}.parent_span_id: a span cannot be its own parent")
    return parsed


def parse_batch(raw: Any) -> tuple[list[dict], list[dict]]:
    if not isinstance(raw, dict):
        raise PayloadError("body: must be an object with traces and spans lists")
    traces, spans = raw.get("traces") or [], raw.get("spans") or []
    if not isinstance(traces, list):
        raise PayloadError("traces: must be a list")
    if not isinstance(spans, list):
        raise PayloadError("spans: must be a list")
    if len(traces) + len(spans) > MAX_BATCH:
        raise PayloadError(f"body: at most {MAX_BATCH} traces and spans per batch")
    return (
        [parse_trace(t, f"traces[{i}]") for i, t in enumerate(traces)],
        [parse_span(s, f"spans[{i}]") for i, s in enumerate(spans)],
    )


def parse_trace_filters(params) -> "TraceFilters":
    """Query parameters of the trace list (API and page share them)."""
    from spanlens.traces.queries import SORTS, TraceFilters

    def date(name: str) -> datetime | None:
        value = (params.get(name) or "").strip()
        if not value:
            return None
        if len(value) == 10:  # a bare date from <input type="date">
            value += "T00:00:00"
        return _timestamp(value, name)

    def positive(name: str, default: int) -> int:
        value = (params.get(name) or "").strip()
        if not value:
            return default
        if not value.isdecimal() or int(value) < 1:
            raise PayloadError(f"{name}: must be a positive integer")
        return int(value)

    status = (params.get("status") or "").strip() or None
    _choice(status, "status", TRACE_STATUSES)
    sort = (params.get("sort") or "-started_at").strip()
    if sort.lstrip("-") not in SORTS:
        raise PayloadError(f"sort: must be one of {', '.join(SORTS)} (prefix - for descending)")
    return TraceFilters(
        status=status,
        name=(params.get("name") or "").strip() or None,
        user_id=(params.get("userId") or params.get("user_id") or "").strip() or None,
        session_id=(params.get("sessionId") or params.get("session_id") or "").strip() or None,
        started_from=date("from"),
        started_to=date("to"),
        sort=sort,
        page=positive("page", 1),
        limit=positive("limit", 50),
    )
