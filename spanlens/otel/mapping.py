"""OTLP spans as Spanlens traces and spans, in the shape the ingest API takes.

Ids: an OTLP trace id is 16 bytes, exactly a UUID, so the Spanlens trace id is
the OTel trace id (its hex without dashes). Span ids are 8 bytes, unique only
within their trace, so a span's UUID is derived from both ids: the same span
re-exported maps to the same row, and a parent is found without a lookup.

A root span (no parent) also describes the trace: its name, times, status, user
and session. Cost comes from our price table (proxy.cost), as for proxied calls.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from spanlens.otel import attributes as attrs_of

STATUS_ERROR = 2  # opentelemetry.proto.trace.v1.Status.STATUS_CODE_ERROR
_SPAN_NAMESPACE = uuid.UUID("6f9e5c1e-8a5e-4b53-9a31-2f0c4b7d9e10")


@dataclass
class Mapped:
    traces: list[dict] = field(default_factory=list)
    spans: list[dict] = field(default_factory=list)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)


def value(any_value) -> Any:
    """An OTLP AnyValue as plain Python."""
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value(kv.value) for kv in any_value.kvlist_value.values}
    if kind == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, kind)


def attribute_dict(key_values) -> dict:
    return {kv.key: value(kv.value) for kv in key_values}


def span_uuid(trace_id: bytes, span_id: bytes) -> uuid.UUID:
    return uuid.uuid5(_SPAN_NAMESPACE, trace_id.hex() + span_id.hex())


def _time(nanos: int) -> str | None:
    if not nanos:
        return None
    return datetime.fromtimestamp(nanos / 1e9, tz=timezone.utc).isoformat()


def map_request(request) -> Mapped:
    mapped = Mapped()
    for resource_spans in request.resource_spans:
        resource = attribute_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            for span in scope_spans.spans:
                problem = _problem(span)
                if problem:
                    mapped.rejected += 1
                    if problem not in mapped.reasons:
                        mapped.reasons.append(problem)
                    continue
                span_raw, trace_raw = map_span(span, resource, scope)
                mapped.spans.append(span_raw)
                if trace_raw is not None:
                    mapped.traces.append(trace_raw)
    return mapped


def _problem(span) -> str | None:
    if len(span.trace_id) != 16 or span.trace_id == bytes(16):
        return "traceId must be 16 bytes, not all zero"
    if len(span.span_id) != 8 or span.span_id == bytes(8):
        return "spanId must be 8 bytes, not all zero"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return "parentSpanId must be 8 bytes or empty"
    if not span.start_time_unix_nano:
        return "startTimeUnixNano is required"
    return None


def map_span(span, resource: dict, scope: str) -> tuple[dict, dict | None]:
    attrs = attribute_dict(span.attributes)
    events = [(e.name, attribute_dict(e.attributes)) for e in span.events]
    failed = span.status.code == STATUS_ERROR
    span_type = attrs_of.span_type(attrs)
    usage = attrs_of.usage(attrs)
    model = attrs_of.model(attrs)
    provider = attrs_of.provider(attrs)
    trace_id = uuid.UUID(bytes=bytes(span.trace_id))
    # Some SDKs write an all-zero parent for a root span instead of leaving it empty.
    parent = span.parent_span_id if span.parent_span_id and span.parent_span_id != bytes(8) else b""
    metadata = attrs_of.metadata_of(attrs) | {
        "otel.trace_id": span.trace_id.hex(),
        "otel.span_id": span.span_id.hex(),
        "otel.scope": scope,
    }
    service = resource.get("service.name")
    if service:
        metadata["service.name"] = service
    raw = {
        "id": str(span_uuid(span.trace_id, span.span_id)),
        "trace_id": str(trace_id),
        "parent_span_id": str(span_uuid(span.trace_id, parent)) if parent else None,
        "name": span.name or None,
        "span_type": span_type,
        "status": "error" if failed else ("completed" if span.end_time_unix_nano else "running"),
        "input": attrs_of.input_of(attrs, events),
        "output": attrs_of.output_of(attrs, events),
        "metadata": metadata,
        "started_at": _time(span.start_time_unix_nano),
        "ended_at": _time(span.end_time_unix_nano),
        "error": _error(span, events) if failed else None,
        "model": model,
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["total_tokens"],
        "cost_usd": _cost(provider, model, usage, failed),
    }
    trace = None
    if not parent:
        trace = {
            "id": str(trace_id),
            "name": span.name or None,
            "status": raw["status"],
            "user_id": attrs_of.user_id(attrs),
            "session_id": attrs_of.session_id(attrs),
            "metadata": {"source": "otlp", **({"service.name": service} if service else {})},
            "started_at": raw["started_at"],
            "ended_at": raw["ended_at"],
        }
    return raw, trace


def _error(span, events: list[tuple[str, dict]]) -> str:
    for name, body in events:
        if name == "exception":
            kind, message = body.get("exception.type"), body.get("exception.message")
            text = ": ".join(str(p) for p in (kind, message) if p)
            if text:
                return text
    return span.status.message or "error"


def _cost(provider: str | None, model: str | None, usage: dict, failed: bool):
    """The call's cost from our price table; None when the model or provider is unknown to it."""
    if not provider or not model or (usage["prompt_tokens"] is None and usage["completion_tokens"] is None):
        return None
    from proxy.cost import row_cost
    from proxy.providers.base import Usage

    counted = Usage(
        model=model,
        prompt_tokens=usage["prompt_tokens"] or 0,
        completion_tokens=usage["completion_tokens"] or 0,
        cache_read_tokens=usage["cache_read_tokens"],
        cache_write_tokens=usage["cache_write_tokens"],
    )
    # The span plays the logged call: row_cost reads the provider, the status and the free flag from it.
    call = SimpleNamespace(provider=provider, status_code=500 if failed else 200, price_free=False, request_body=None)
    cost, _source = row_cost(call, counted, model, None, estimate=False)
    return str(cost) if cost is not None else None
