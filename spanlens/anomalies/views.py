"""/anomalies: what is unusual now, against its baseline band; acknowledge; the history."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dashboard import charts
from spanlens.anomalies import services
from spanlens.anomalies.display import METRIC_UNITS, format_value
from spanlens.anomalies.models import Anomaly, AnomalySnapshot
from spanlens.core import access as access_mod
from spanlens.core.access import Access, org_required, require_write

HISTORY_DAYS = 30


def anomaly_or_404(access: Access, anomaly_id: str) -> Anomaly:
    anomaly = (Anomaly.objects.filter(organization=access.organization, id=access_mod.uuid_or_404(anomaly_id))
               .select_related("project", "acknowledged_by").first())
    if anomaly is None:
        raise Http404("No such anomaly")
    return anomaly


def _requests_link(a: Anomaly) -> str:
    """The calls of the anomaly's scope in the hour before it opened (or until it resolved)."""
    params = {"from": (a.opened_at - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "to": (a.resolved_at or a.last_seen_at).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if a.scope_kind == Anomaly.ScopeKind.PROJECT:
        params["projectId"] = str(a.project_id)
    else:
        provider, _, model = a.scope_key.partition("/")
        params.update({"provider": provider, "model": model})
    if a.metric == Anomaly.Metric.P95_LATENCY:
        params["sortBy"] = "latency_ms"
    elif a.metric == Anomaly.Metric.COST:
        params["sortBy"] = "cost_usd"
    return "/requests/?" + urlencode(params)


def card(a: Anomaly) -> dict:
    """What a page shows of one anomaly: the chart of the day before it opened, its numbers."""
    points = a.chart or []
    labels = []
    for p in points:
        end = a.opened_at - timedelta(hours=int(p["ago"]))
        labels.append(end.astimezone(timezone.utc).strftime("%H:%M · %b %-d") + " (hour ending)")
    fmt = lambda v: format_value(a.metric, v)  # noqa: E731
    times = abs(a.value / a.expected) if a.expected else None
    return {
        "a": a, "label": services.scope_label(a), "value": fmt(a.value), "expected": fmt(a.expected),
        "unit": METRIC_UNITS[a.metric], "times": times,
        "chart": charts.band_chart(points, labels=labels, fmt=fmt,
                                   aria=f"{a.get_metric_display()} per hour against its baseline band"),
        "requests_link": _requests_link(a),
    }


def _history(access: Access, now: datetime) -> dict:
    today = now.date()
    snaps = {s.day: s for s in AnomalySnapshot.objects.filter(
        organization=access.organization, day__gt=today - timedelta(days=HISTORY_DAYS))}
    days = [today - timedelta(days=HISTORY_DAYS - 1 - i) for i in range(HISTORY_DAYS)]
    opened = [snaps[d].opened if d in snaps else 0 for d in days]
    labels = [f"{d.strftime('%a %b %-d')}: {n} opened" for d, n in zip(days, opened)]
    rows = [snaps[d] for d in reversed(days) if d in snaps and snaps[d].opened]
    return {"history_chart": charts.stacked_bars(days, {"opened": opened}, labels=labels,
                                                 aria=f"Anomalies opened per day, last {HISTORY_DAYS} days"),
            "history_rows": rows, "history_total": sum(opened)}


@org_required
def anomalies_page(request: HttpRequest, access: Access) -> HttpResponse:
    project = access_mod.current_project(request)
    project_id = str(project.id) if project else None
    now = datetime.now(timezone.utc)
    active = services.active(access.organization.id, project_id).select_related("project")
    recent = (services.visible(access.organization.id, project_id)
              .filter(Q(resolved_at__isnull=False) | Q(acknowledged_at__isnull=False),
                      opened_at__gte=now - timedelta(days=7))
              .select_related("project", "acknowledged_by")[:25])
    return render(request, "anomalies/list.html", {
        "cards": [card(a) for a in active.order_by("-peak_score", "-opened_at")],
        "recent": [{"a": a, "label": services.scope_label(a), "value": format_value(a.metric, a.value),
                    "expected": format_value(a.metric, a.expected)} for a in recent],
        "project": project, **_history(access, now),
    })


@org_required
def anomaly_detail(request: HttpRequest, access: Access, anomaly_id: str) -> HttpResponse:
    a = anomaly_or_404(access, anomaly_id)
    return render(request, "anomalies/detail.html", {"c": card(a), "errors": {}})


@org_required
@require_POST
def acknowledge(request: HttpRequest, access: Access, anomaly_id: str) -> HttpResponse:
    a = anomaly_or_404(access, anomaly_id)
    require_write(access)
    try:
        services.acknowledge_anomaly(a, user=request.user, note=request.POST.get("note", ""))
    except services.AcknowledgeError as exc:
        return render(request, "anomalies/detail.html", {"c": card(a), "errors": {"note": str(exc)},
                                                         "note": request.POST.get("note", "")}, status=400)
    messages.success(request, f"Acknowledged: {a.get_metric_display()} on {services.scope_label(a)}.")
    return redirect("/anomalies/")
