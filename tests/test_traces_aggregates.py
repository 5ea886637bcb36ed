"""Trace aggregates stay exact on every span change: the PostgreSQL trigger and
the service layer's recompute agree, including on writes that bypass services."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection

from spanlens.traces import services
from spanlens.traces.models import Span, Trace

T0 = datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=timezone.utc)
needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL-only")


def at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def make_trace(org, project, **fields) -> Trace:
    return Trace.objects.create(organization=org, project=project, name="t", started_at=fields.pop("started_at", T0),
                                **fields)


def add_span(org, trace, start, end, tokens=None, cost=None) -> Span:
    return Span.objects.create(trace_id=trace.id, organization=org, name="s", started_at=at(start),
                               ended_at=at(end) if end is not None else None, total_tokens=tokens,
                               cost_usd=Decimal(cost) if cost is not None else None)


def aggregates(trace_id):
    t = Trace.objects.get(id=trace_id)
    return t.span_count, t.total_tokens, t.total_cost_usd, t.duration_ms


@needs_postgres
def test_the_trigger_refreshes_aggregates_on_raw_span_writes(org, project):
    trace = make_trace(org, project)
    a = add_span(org, trace, 0, 100.5, tokens=10, cost="0.00000001")
    add_span(org, trace, 50, 2000.9, tokens=5, cost="1.23456789")
    add_span(org, trace, 60, None)
    assert aggregates(trace.id) == (3, 15, Decimal("1.23456790"), 2000)

    Span.objects.filter(id=a.id).update(total_tokens=100, cost_usd=None)
    assert aggregates(trace.id)[:3] == (3, 105, Decimal("1.23456789"))

    Span.objects.filter(id=a.id).delete()
    assert aggregates(trace.id)[:2] == (2, 5)


@needs_postgres
def test_moving_a_span_to_another_trace_refreshes_both(org, project):
    first, second = make_trace(org, project), make_trace(org, project)
    span = add_span(org, first, 0, 10, tokens=7)
    Span.objects.filter(id=span.id).update(trace_id=second.id)
    assert aggregates(first.id)[:2] == (0, 0)
    assert aggregates(second.id)[:2] == (1, 7)


def test_the_python_recompute_matches_the_trigger(org, project):
    trace = make_trace(org, project, ended_at=at(500))
    add_span(org, trace, -20.25, 300, tokens=3, cost="0.1")
    add_span(org, trace, 10, 900.7, tokens=4, cost="0.00000007")
    add_span(org, trace, 10, None, tokens=None, cost=None)
    services.recompute_trace_aggregates(trace.id)  # the SQL function on PostgreSQL
    expected = aggregates(trace.id)
    Trace.objects.filter(id=trace.id).update(span_count=0, total_tokens=0, total_cost_usd=0, duration_ms=None)
    services.recompute_trace_aggregates_in_python(trace.id)
    assert aggregates(trace.id) == expected == (3, 7, Decimal("0.10000007"), 920)


def test_a_running_trace_without_ended_spans_has_no_duration(org, project):
    trace = make_trace(org, project)
    add_span(org, trace, 0, None)
    services.recompute_trace_aggregates(trace.id)
    assert aggregates(trace.id) == (1, 0, Decimal("0"), None)


def test_spans_of_another_organization_never_count(org, project, other_org_and_project):
    other_org, _ = other_org_and_project
    trace = make_trace(org, project)
    add_span(org, trace, 0, 1, tokens=1)
    add_span(other_org, trace, 0, 1, tokens=1000)  # only possible by bypassing the services
    services.recompute_trace_aggregates(trace.id)
    assert aggregates(trace.id)[:2] == (1, 1)
    services.recompute_trace_aggregates_in_python(trace.id)
    assert aggregates(trace.id)[:2] == (1, 1)


def test_concurrent_writers_to_one_trace_keep_exact_aggregates(transactional_db, org, project):
    import threading

    from django.db import connections

    trace_id = uuid.uuid4()
    errors = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                services.ingest(organization_id=org.id, project_id=project.id, traces=[], spans=[
                    {"id": uuid.uuid4(), "trace_id": trace_id, "started_at": at(n * 10 + i),
                     "ended_at": at(n * 10 + i + 5), "total_tokens": 3, "cost_usd": Decimal("0.00000001")}
                    for _ in range(2)])
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # 6 writers x 10 batches x 2 spans; the first span starts at 0 ms, the last ends at 59 + 5 ms.
    assert aggregates(trace_id) == (120, 360, Decimal("0.00000120"), 64)
