"""Reads of traces and spans. Every function takes organization_id keyword-only:
the tenant filter lives here, so a view cannot forget it."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.core.paginator import Paginator

from spanlens.traces.models import Span, Trace

SORTS = {
    "started_at": "started_at",
    "name": "name",
    "status": "status",
    "duration": "duration_ms",
    "spans": "span_count",
    "tokens": "total_tokens",
    "cost": "total_cost_usd",
}
MAX_LIMIT = 200


@dataclass
class TraceFilters:
    status: str | None = None
    project_id: object | None = None  # the dashboard's project switcher; None = all projects
    name: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    sort: str = "-started_at"
    page: int = 1
    limit: int = 50


@dataclass
class TracePage:
    traces: list[Trace]
    total: int
    page: int
    limit: int
    pages: int
    filters: TraceFilters = field(repr=False, default_factory=TraceFilters)


def list_traces(*, organization_id, filters: TraceFilters) -> TracePage:
    qs = Trace.objects.filter(organization_id=organization_id)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.project_id:
        qs = qs.filter(project_id=filters.project_id)
    if filters.name:
        qs = qs.filter(name__icontains=filters.name)
    if filters.user_id:
        qs = qs.filter(user_id=filters.user_id)
    if filters.session_id:
        qs = qs.filter(session_id=filters.session_id)
    if filters.started_from:
        qs = qs.filter(started_at__gte=filters.started_from)
    if filters.started_to:
        qs = qs.filter(started_at__lt=filters.started_to)
    descending = filters.sort.startswith("-")
    column = SORTS.get(filters.sort.lstrip("-"), "started_at")
    order = f"-{column}" if descending else column
    # Ties (equal costs, running traces without a duration) keep a stable order across pages.
    qs = qs.order_by(order, "-started_at", "id") if column != "started_at" else qs.order_by(order, "id")
    paginator = Paginator(qs, max(1, min(filters.limit, MAX_LIMIT)))
    page = paginator.get_page(filters.page)
    return TracePage(
        traces=list(page.object_list),
        total=paginator.count,
        page=page.number,
        limit=paginator.per_page,
        pages=paginator.num_pages,
        filters=filters,
    )


def get_trace(*, organization_id, trace_id) -> Trace | None:
    try:
        trace_uuid = uuid.UUID(str(trace_id))
    except ValueError:
        return None
    return Trace.objects.filter(organization_id=organization_id, id=trace_uuid).first()


def list_spans(*, organization_id, trace_id) -> list[Span]:
    return list(
        Span.objects.filter(organization_id=organization_id, trace_id=trace_id).order_by("started_at", "id")
    )


def get_span(*, organization_id, trace_id, span_id) -> Span | None:
    try:
        span_uuid = uuid.UUID(str(span_id))
    except ValueError:
        return None
    return Span.objects.filter(organization_id=organization_id, trace_id=trace_id, id=span_uuid).first()
