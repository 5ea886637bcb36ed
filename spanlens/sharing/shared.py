"""What a share link shows: plain values picked field by field, so a template can never
reach a field the share's redaction leaves out."""
from __future__ import annotations

import json

from django.http import Http404

from spanlens.core.access import Access, uuid_or_404
from spanlens.requestlog import queries as log_queries
from spanlens.traces import queries as trace_queries
from spanlens.traces import waterfall


def target_or_404(access: Access, kind: str, target_id: str) -> str:
    """The id of a request or trace of this organization, or 404."""
    target_id = uuid_or_404(target_id)
    if kind == "request":
        found = log_queries.get_request(organization_id=access.organization.id, request_id=target_id,
                                        retention_days=access.retention_days)
    elif kind == "trace":
        found = trace_queries.get_trace(organization_id=access.organization.id, trace_id=target_id)
    else:
        raise Http404("Nothing to share")
    if found is None:
        raise Http404("Nothing to share")
    return target_id


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return text or ""


def context_for(share) -> dict | None:
    org = share.organization
    if share.kind == "request":
        row = log_queries.get_request(organization_id=org.id, request_id=str(share.target_id),
                                      retention_days=org.retention_days)
        return None if row is None else {"r": _request(share, row)}
    trace = trace_queries.get_trace(organization_id=org.id, trace_id=share.target_id)
    if trace is None:
        return None
    spans = trace_queries.list_spans(organization_id=org.id, trace_id=trace.id)
    return _trace(share, trace, spans)


def _request(share, row: dict) -> dict:
    shown = {
        "model": row["model"], "provider": row["provider"], "status_code": row["status_code"],
        "created_at": row["created_at"], "latency_ms": row["latency_ms"], "stream": row["stream"],
        "prompt_tokens": row["prompt_tokens"], "completion_tokens": row["completion_tokens"],
        "cost_usd": row["cost_usd"], "cache_hit": row.get("cache_hit", False),
    }
    if not share.hide_bodies:
        shown["request_body"] = _pretty(row["request_body"])
        shown["response_body"] = _pretty(row["response_body"])
        shown["error_message"] = row["error_message"]
    if not share.hide_user_ids:
        shown["user_id"] = row["user_id"]
        shown["session_id"] = row["session_id"]
    if not share.hide_metadata:
        shown["metadata"] = {key: row[key] for key in ("endpoint", "trace_id", "span_id", "prompt_version_id")
                             if row.get(key)}
    return shown


def _trace(share, trace, spans) -> dict:
    built = waterfall.build(trace, spans)
    rows = []
    for row in built.rows:
        span = row.span
        item = {
            "name": span.name, "span_type": span.span_type, "status": span.status, "duration_ms": span.duration_ms,
            "model": span.model, "total_tokens": span.total_tokens, "cost_usd": span.cost_usd,
            "depth": row.depth, "left_pct": row.left_pct, "width_pct": row.width_pct,
            "label_place": row.label_place, "label_style": row.label_style,
        }
        if not share.hide_bodies:
            item["input"] = span.input
            item["output"] = span.output
            item["error"] = span.error
        if not share.hide_metadata:
            item["metadata"] = span.metadata
        rows.append(item)
    shown = {
        "name": trace.name, "status": trace.status, "status_label": trace.get_status_display(),
        "started_at": trace.started_at, "duration_ms": trace.duration_ms, "span_count": len(rows),
        "total_tokens": trace.total_tokens, "total_cost_usd": trace.total_cost_usd,
    }
    if not share.hide_user_ids:
        shown["user_id"] = trace.user_id
        shown["session_id"] = trace.session_id
    if not share.hide_metadata:
        shown["metadata"] = trace.metadata
    return {"trace": shown, "rows": rows, "ticks": built.ticks}
