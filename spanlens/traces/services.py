"""Writes to traces and spans: ingest from the SDK and the link from the proxy.

Every write is an idempotent upsert keyed on ids the client chose, so a retried
batch changes nothing, and spans may arrive before their trace (a placeholder
trace row is created, then filled in when the trace itself arrives).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Iterable

from django.db import connection, transaction
from django.utils import timezone

from spanlens.traces.models import Span, Trace
from spanlens.traces.payloads import MAX_NAME, MAX_TOKENS, storable

log = logging.getLogger(__name__)

TRACE_FIELDS = ("name", "status", "user_id", "session_id", "metadata", "started_at", "ended_at")
SPAN_FIELDS = (
    "parent_span_id", "name", "span_type", "status", "input", "output", "metadata",
    "started_at", "ended_at", "duration_ms", "error", "request_id", "model",
    "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd",
)
LINK_FIELDS = ("request_id", "model", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd")


class IdConflict(Exception):
    """An id the client sent already belongs to another organization or trace."""


@dataclass
class IngestResult:
    traces: int
    spans: int


def ingest(*, organization_id, project_id, traces: list[dict], spans: list[dict]) -> IngestResult:
    """Upsert parsed traces and spans (see payloads.parse_batch) in one transaction."""
    with transaction.atomic():
        locked = _lock_traces(organization_id, project_id, traces, spans)
        for data in traces:
            _apply_trace(locked[data["id"]], data, project_id)
        _upsert_spans(organization_id, spans)
        for trace_id in sorted(locked):
            recompute_trace_aggregates(trace_id)
    return IngestResult(traces=len(traces), spans=len(spans))


def link_request_to_span(
    organization_id,
    trace_id,
    span_id,
    request_id,
    model,
    prompt_tokens,
    completion_tokens,
    total_tokens,
    cost_usd,
    *,
    project_id=None,
) -> Span | None:
    """Record a proxied call on the span it ran in, creating an LLM span if the SDK has not sent it.

    Called by the proxy's log writer after the request row is written. The
    SDK's own upsert of this span later never nulls these fields (payloads drop
    nulls), so the waterfall shows tokens and cost without reading ClickHouse.
    Returns None (and writes nothing) for ids that are not UUIDs or belong to
    another organization: the proxy must never fail because of a header.
    """
    try:
        trace_uuid, span_uuid = uuid.UUID(str(trace_id)), uuid.UUID(str(span_id))
        request_uuid = uuid.UUID(str(request_id)) if request_id else None
    except ValueError:
        return None
    # The model and counts come from a client's body or a provider's reply: keep them storable.
    values = {
        "request_id": request_uuid,
        "model": storable(model)[:MAX_NAME] or None if model else None,
        "prompt_tokens": _clamp(prompt_tokens),
        "completion_tokens": _clamp(completion_tokens),
        "total_tokens": _clamp(total_tokens),
        "cost_usd": Decimal(str(cost_usd)).quantize(Decimal("0.00000001")) if cost_usd is not None else None,
    }
    values = {k: v for k, v in values.items() if v is not None}
    now = timezone.now()
    try:
        with transaction.atomic():
            _lock_traces(organization_id, project_id, [], [{"trace_id": trace_uuid, "started_at": now}])
            span = Span.objects.select_for_update().filter(id=span_uuid).first()
            if span is None:
                span = Span(
                    id=span_uuid,
                    trace_id=trace_uuid,
                    organization_id=organization_id,
                    name=values.get("model", "llm"),
                    span_type=Span.Type.LLM,
                    status=Span.Status.COMPLETED,
                    started_at=now,
                    **values,
                )
                span.save(force_insert=True)
            elif str(span.organization_id) != str(organization_id) or span.trace_id != trace_uuid:
                raise IdConflict(str(span_uuid))
            else:
                for field, value in values.items():
                    setattr(span, field, value)
                span.save(update_fields=[*values, "updated_at"])
            recompute_trace_aggregates(trace_uuid)
    except IdConflict:
        log.warning("ignored a proxy link to span %s: its ids belong elsewhere", span_uuid)
        return None
    return span


def _clamp(count) -> int | None:
    return None if count is None else max(0, min(int(count), MAX_TOKENS))


def recompute_trace_aggregates(trace_id) -> None:
    """Refresh span_count, total_tokens, total_cost_usd and duration_ms of one trace.

    On PostgreSQL this runs the same SQL function the trigger runs (one formula);
    elsewhere the Python twin below computes it. Callers hold the trace row lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT spans_refresh_one_trace(%s)", [str(trace_id)])
        return
    recompute_trace_aggregates_in_python(trace_id)


def recompute_trace_aggregates_in_python(trace_id) -> None:
    trace = Trace.objects.get(id=trace_id)
    rows = Span.objects.filter(trace_id=trace.id, organization_id=trace.organization_id).values_list(
        "total_tokens", "cost_usd", "started_at", "ended_at"
    )
    count, tokens, cost = 0, 0, Decimal(0)
    first_start: datetime | None = None
    last_end: datetime | None = None
    for span_tokens, span_cost, started, ended in rows:
        count += 1
        tokens += span_tokens or 0
        cost += span_cost or 0
        first_start = started if first_start is None else min(first_start, started)
        if ended is not None:
            last_end = ended if last_end is None else max(last_end, ended)
    trace.span_count = count
    trace.total_tokens = tokens
    trace.total_cost_usd = cost
    trace.duration_ms = trace_duration_ms(trace.started_at, trace.ended_at, first_start, last_end)
    trace.save(update_fields=["span_count", "total_tokens", "total_cost_usd", "duration_ms", "updated_at"])


def trace_duration_ms(started_at, ended_at, first_span_start, last_span_end) -> int | None:
    """From the earliest start to the latest end of the trace or any span; None while no end is known.

    Mirrors spans_refresh_one_trace in migration 0002 (GREATEST/LEAST skip NULLs, floor to ms).
    """
    ends = [t for t in (ended_at, last_span_end) if t is not None]
    if not ends:
        return None
    starts = [t for t in (started_at, first_span_start) if t is not None]
    delta = max(ends) - min(starts)
    return max(0, delta // _ONE_MS)


_ONE_MS = timedelta(milliseconds=1)


def span_duration_ms(started_at, ended_at) -> int | None:
    if started_at is None or ended_at is None:
        return None
    return max(0, (ended_at - started_at) // _ONE_MS)


# --- internals ----------------------------------------------------------------

def _lock_traces(organization_id, project_id, traces: list[dict], spans: Iterable[dict]) -> dict:
    """Make sure every named trace has a row (placeholders for spans that came first), lock them.

    Rows are inserted and locked in id order so two batches touching the same traces cannot deadlock.
    """
    now = timezone.now()
    earliest: dict[uuid.UUID, datetime] = {}
    for data in traces:
        earliest[data["id"]] = data.get("started_at") or now
    for data in spans:
        started = data.get("started_at") or now
        earliest[data["trace_id"]] = min(earliest.get(data["trace_id"], started), started)
    Trace.objects.bulk_create(
        [
            Trace(id=tid, organization_id=organization_id, project_id=project_id, started_at=started)
            for tid, started in sorted(earliest.items())
        ],
        ignore_conflicts=True,
    )
    locked = {
        t.id: t
        for t in Trace.objects.select_for_update().filter(id__in=list(earliest)).order_by("id")
    }
    for trace in locked.values():
        if str(trace.organization_id) != str(organization_id):
            raise IdConflict(f"trace id {trace.id} is already in use")
    return locked


def _apply_trace(trace: Trace, data: dict, project_id) -> None:
    changed = [f for f in TRACE_FIELDS if f in data]
    for field in changed:
        setattr(trace, field, data[field])
    if trace.project_id is None and project_id is not None:
        trace.project_id = project_id
        changed.append("project")
    # Only the named columns: the aggregates on this in-memory row may be stale.
    trace.save(update_fields=[*changed, "updated_at"])


def _upsert_spans(organization_id, spans: list[dict]) -> None:
    if not spans:
        return
    existing = Span.objects.select_for_update().in_bulk([s["id"] for s in spans])
    for data in spans:
        span = existing.get(data["id"])
        if span is None:
            span = Span(
                id=data["id"],
                trace_id=data["trace_id"],
                organization_id=organization_id,
                started_at=data.get("started_at") or timezone.now(),
            )
            _set_span_fields(span, data)
            span.save(force_insert=True)
            existing[span.id] = span
            continue
        if str(span.organization_id) != str(organization_id) or span.trace_id != data["trace_id"]:
            raise IdConflict(f"span id {span.id} is already in use")
        changed = _set_span_fields(span, data)
        span.save(update_fields=[*changed, "updated_at"])


def _set_span_fields(span: Span, data: dict) -> list[str]:
    changed = [f for f in SPAN_FIELDS if f in data]
    for field in changed:
        setattr(span, field, data[field])
    if "duration_ms" not in data and span.ended_at is not None:
        span.duration_ms = span_duration_ms(span.started_at, span.ended_at)
        changed.append("duration_ms")
    return changed


def link_logged_requests(rows: list[dict]) -> None:
    """After-write hook of the request-log writer: link each proxied call that carried
    trace/span ids to its span, so the waterfall has tokens and cost at hand."""
    for row in rows:
        if row.get("trace_id") and row.get("span_id"):
            link_request_to_span(
                row["organization_id"], row["trace_id"], row["span_id"], row["id"], row.get("model"),
                row.get("prompt_tokens"), row.get("completion_tokens"), row.get("total_tokens"),
                row.get("cost_usd"), project_id=row.get("project_id"),
            )
