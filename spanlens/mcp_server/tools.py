"""What each MCP tool answers, as plain functions of an organization's access.

Every read goes through the same scoped queries the pages and the REST API use
(the request log through spanlens.requestlog.queries, traces through
spanlens.traces.queries), so an assistant sees exactly what the key's
organization may see, and nothing here can write.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from spanlens.core.access import Access

PERIODS = ("1h", "24h", "7d", "30d", "today", "yesterday")
MAX_LIMIT = 100


class ToolInputError(ValueError):
    """A tool argument that cannot be used; the message names it."""


def period_bounds(period: str | None, start: str | None, end: str | None, *, now: datetime | None = None):
    """(since, until) in UTC from a named period or ISO 8601 bounds; days are UTC days."""
    now = now or datetime.now(timezone.utc)
    if start or end:
        since = _iso(start, "start") if start else now - timedelta(days=1)
        until = _iso(end, "end") if end else now
        if since > until:
            raise ToolInputError("end: must not be earlier than start")
        return since, until
    period = period or "24h"
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "today":
        return midnight, now
    if period == "yesterday":
        return midnight - timedelta(days=1), midnight - timedelta(milliseconds=1)
    spans = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
    if period not in spans:
        raise ToolInputError(f"period: one of {', '.join(PERIODS)}, or give start and end")
    return now - spans[period], now


def _iso(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ToolInputError(f"{name}: must be an ISO 8601 date or time, like 2026-01-31 or 2026-01-31T12:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _limit(value: int) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise ToolInputError(f"limit: between 1 and {MAX_LIMIT}")
    return value


def stats(access: Access, *, period: str | None = None, start: str | None = None, end: str | None = None) -> dict:
    from spanlens.requestlog import queries

    since, until = period_bounds(period, start, end)
    totals = queries.get_period_stats(
        organization_id=access.organization.id, retention_days=access.retention_days, since=since, until=until
    )
    return {"from": since.isoformat(), "to": until.isoformat(), **totals}


def query_requests(access: Access, filters: dict[str, str]) -> dict:
    """The /requests list with its own filters (provider, model, status, userId, from, to, q, …)."""
    from dashboard import filters as filters_mod
    from dashboard import rows as rows_mod
    from spanlens.requestlog import queries

    try:
        parsed = filters_mod.parse({k: str(v) for k, v in filters.items() if v is not None},
                                   organization_id=access.organization.id)
    except filters_mod.FilterError as exc:
        raise ToolInputError(f"{exc.param}: {exc.message}") from None
    parsed.limit = _limit(min(parsed.limit, MAX_LIMIT))
    if parsed.projectId and not access.organization.projects.filter(id=parsed.projectId).exists():
        raise ToolInputError("projectId: no such project in this organization")
    result = queries.list_requests(
        organization_id=access.organization.id, retention_days=access.retention_days,
        page=parsed.page, limit=parsed.limit, **parsed.query_kwargs(),
    )
    rows = rows_mod.with_key_names(access.organization.id, result["rows"])
    return {"total": result["total"], "page": parsed.page, "limit": parsed.limit,
            "requests": [rows_mod.to_json(r) for r in rows]}


def get_request(access: Access, request_id: str) -> dict:
    import uuid

    from dashboard import rows as rows_mod
    from spanlens.requestlog import queries

    try:
        uuid.UUID(request_id)
    except ValueError:
        raise ToolInputError("request_id: must be a request's UUID") from None
    row = queries.get_request(
        organization_id=access.organization.id, request_id=request_id, retention_days=access.retention_days
    )
    if row is None:
        raise ToolInputError(f"request {request_id}: not found in this organization")
    [row] = rows_mod.with_key_names(access.organization.id, [row])
    return rows_mod.to_json(row)


def list_traces(access: Access, filters: dict[str, str]) -> dict:
    from spanlens.traces import payloads, queries
    from spanlens.traces.serializers import trace_json

    try:
        parsed = payloads.parse_trace_filters({k: str(v) for k, v in filters.items() if v is not None})
    except payloads.PayloadError as exc:
        raise ToolInputError(str(exc)) from None
    parsed.limit = _limit(min(parsed.limit, MAX_LIMIT))
    page = queries.list_traces(organization_id=access.organization.id, filters=parsed)
    return {"total": page.total, "page": page.page, "pages": page.pages, "traces": [trace_json(t) for t in page.traces]}


def get_trace(access: Access, trace_id: str) -> dict:
    from spanlens.traces import queries
    from spanlens.traces.serializers import span_json, trace_json

    trace = queries.get_trace(organization_id=access.organization.id, trace_id=trace_id)
    if trace is None:
        raise ToolInputError(f"trace {trace_id}: not found in this organization")
    spans = queries.list_spans(organization_id=access.organization.id, trace_id=trace.id)
    return trace_json(trace) | {"spans": [span_json(s) for s in spans]}


def users(access: Access, *, sort: str = "cost_usd", limit: int = 20, page: int = 1) -> dict:
    from spanlens.requestlog import queries
    from spanlens.requestlog.queries import USER_SORT_COLUMNS

    if sort.lstrip("-") not in USER_SORT_COLUMNS:
        raise ToolInputError(f"sort: one of {', '.join(USER_SORT_COLUMNS)} (prefix - for ascending)")
    result = queries.list_users(
        organization_id=access.organization.id, retention_days=access.retention_days,
        sort_by=sort.lstrip("-"), sort_dir="asc" if sort.startswith("-") else "desc",
        page=max(page, 1), limit=_limit(limit),
    )
    return {"total": result["total"], "users": [_plain(r) for r in result["rows"]]}


def anomalies(access: Access, *, limit: int = 5) -> dict:
    from spanlens.anomalies.services import open_anomalies

    return {"anomalies": [_plain(a) for a in open_anomalies(organization_id=access.organization.id,
                                                            limit=_limit(limit))]}


def savings(access: Access) -> dict:
    from spanlens.savings.services import savings_summary

    return savings_summary(organization_id=access.organization.id)


def _plain(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
