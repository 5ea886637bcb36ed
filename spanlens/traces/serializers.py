"""Traces and spans as JSON for the API (ids as strings, money as a decimal string)."""
from __future__ import annotations

from spanlens.traces.models import Span, Trace


def _ts(value):
    return value.isoformat() if value else None


def _uuid(value):
    return str(value) if value else None


def trace_json(trace: Trace) -> dict:
    return {
        "id": str(trace.id),
        "project_id": _uuid(trace.project_id),
        "name": trace.name,
        "status": trace.status,
        "user_id": trace.user_id,
        "session_id": trace.session_id,
        "metadata": trace.metadata,
        "started_at": _ts(trace.started_at),
        "ended_at": _ts(trace.ended_at),
        "span_count": trace.span_count,
        "total_tokens": trace.total_tokens,
        "total_cost_usd": str(trace.total_cost_usd),
        "duration_ms": trace.duration_ms,
    }


def span_json(span: Span) -> dict:
    return {
        "id": str(span.id),
        "trace_id": str(span.trace_id),
        "parent_span_id": _uuid(span.parent_span_id),
        "name": span.name,
        "span_type": span.span_type,
        "status": span.status,
        "input": span.input,
        "output": span.output,
        "metadata": span.metadata,
        "started_at": _ts(span.started_at),
        "ended_at": _ts(span.ended_at),
        "duration_ms": span.duration_ms,
        "error": span.error,
        "request_id": _uuid(span.request_id),
        "model": span.model,
        "prompt_tokens": span.prompt_tokens,
        "completion_tokens": span.completion_tokens,
        "total_tokens": span.total_tokens,
        "cost_usd": str(span.cost_usd) if span.cost_usd is not None else None,
    }
