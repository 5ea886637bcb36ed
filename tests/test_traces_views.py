"""The trace pages through Django's test client: access, partials, bad filters,
and the waterfall layout itself."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from spanlens.traces import services, waterfall
from spanlens.traces.models import Span, Trace

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def seed(org, project, **trace_fields) -> tuple[uuid.UUID, uuid.UUID]:
    trace_id, span_id = uuid.uuid4(), uuid.uuid4()
    services.ingest(
        organization_id=org.id, project_id=project.id,
        traces=[{"id": trace_id, "name": "checkout", "status": "completed", "started_at": at(0),
                 "ended_at": at(100), **trace_fields}],
        spans=[{"id": span_id, "trace_id": trace_id, "name": "charge-card", "span_type": "tool",
                "status": "completed", "started_at": at(10), "ended_at": at(60), "output": {"ok": True}}],
    )
    return trace_id, span_id


def test_pages_need_a_login(client):
    response = client.get("/traces")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_list_renders_and_htmx_gets_only_the_rows(client, owner, org, project):
    seed(org, project)
    client.force_login(owner)
    page = client.get("/traces")
    assert page.status_code == 200 and b"<html" in page.content and b"checkout" in page.content
    rows = client.get("/traces?status=completed", HTTP_HX_REQUEST="true")
    assert b"<html" not in rows.content and b'id="trace-rows"' in rows.content and b"checkout" in rows.content


def test_a_bad_filter_is_shown_on_the_page_not_a_500(client, owner, org, project):
    client.force_login(owner)
    response = client.get("/traces?from=someday")
    assert response.status_code == 200 and b"from: must be an ISO 8601 timestamp" in response.content
    rows = client.get("/traces?sort=price", HTTP_HX_REQUEST="true")
    assert b"<html" not in rows.content and b"sort: must be one of" in rows.content


def test_the_span_panel_comes_alone_for_htmx(client, owner, org, project):
    trace_id, span_id = seed(org, project)
    client.force_login(owner)
    full = client.get(f"/traces/{trace_id}?span={span_id}")
    assert b"charge-card" in full.content and b"&quot;ok&quot;: true" in full.content
    panel = client.get(f"/traces/{trace_id}?span={span_id}", HTTP_HX_REQUEST="true")
    assert panel.content.strip().startswith(b'<aside class="tr-card sp-panel" id="span-detail">')


def test_the_outsider_gets_404_on_every_trace_page(client, outsider, other_org_and_project, org, project):
    trace_id, span_id = seed(org, project)
    client.force_login(outsider)
    assert client.get(f"/traces/{trace_id}").status_code == 404
    assert client.get(f"/traces/{trace_id}?span={span_id}", HTTP_HX_REQUEST="true").status_code == 404
    assert b"checkout" not in client.get("/traces").content
    assert client.get("/traces/not-a-uuid").status_code == 404


def _span(name, start, end, parent=None, trace_id=None):
    return Span(id=uuid.uuid4(), trace_id=trace_id, name=name, started_at=at(start),
                ended_at=at(end) if end is not None else None, parent_span_id=parent)


def test_the_waterfall_places_bars_on_one_axis_and_nests_them():
    trace = Trace(id=uuid.uuid4(), status="completed", started_at=at(0), ended_at=at(1000))
    root = _span("root", 0, 1000)
    child = _span("child", 250, 750, parent=root.id)
    orphan = _span("orphan", 900, 1000, parent=uuid.uuid4())
    layout = waterfall.build(trace, [orphan, child, root])
    assert [(r.span.name, r.depth, r.left_pct, r.width_pct, r.orphan) for r in layout.rows] == [
        ("root", 0, 0.0, 100.0, False), ("child", 1, 25.0, 50.0, False), ("orphan", 0, 90.0, 10.0, True)]
    assert [t.label for t in layout.ticks] == ["0 ms", "250 ms", "500 ms", "750 ms", "1.00 s"]


def test_a_running_trace_draws_open_spans_up_to_now_and_survives_cycles():
    trace = Trace(id=uuid.uuid4(), status="running", started_at=at(0))
    a, b = _span("a", 0, None), _span("b", 500, None)
    a.parent_span_id, b.parent_span_id = b.id, a.id  # ids come from clients: a cycle is possible
    layout = waterfall.build(trace, [a, b], now=at(1000))
    assert layout.total_ms == 1000
    assert [(r.span.name, r.depth) for r in layout.rows] == [("a", 0), ("b", 1)]  # shown once, no loop
    solo = waterfall.build(trace, [_span("open", 500, None)], now=at(1000))
    assert (solo.rows[0].left_pct, solo.rows[0].width_pct) == (50.0, 50.0)


def test_every_trace_read_takes_the_organization_keyword_only():
    import inspect

    from spanlens.traces import queries

    readers = [f for name, f in vars(queries).items()
               if inspect.isfunction(f) and name.startswith(("list_", "get_", "count_"))]
    assert readers
    for reader in readers:
        parameter = inspect.signature(reader).parameters.get("organization_id")
        assert parameter is not None and parameter.kind is inspect.Parameter.KEYWORD_ONLY, reader.__name__


def test_the_project_switcher_narrows_the_list(client, owner, org, project):
    from spanlens.core.access import SESSION_ORG, SESSION_PROJECT
    from spanlens.core.models import Project

    seed(org, project)
    other = Project.objects.create(organization=org, name="Batch jobs")
    client.force_login(owner)
    session = client.session
    session[SESSION_ORG], session[SESSION_PROJECT] = str(org.id), str(other.id)
    session.save()
    assert b"checkout" not in client.get("/traces").content
    session[SESSION_PROJECT] = str(project.id)
    session.save()
    assert b"checkout" in client.get("/traces").content
