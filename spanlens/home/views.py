"""The home page: what the organization's traffic costs and does, at a glance."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from spanlens.core import access as access_mod
from spanlens.core.access import Access, org_required
from spanlens.home import panels, usage


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("/login/")
    return home_page(request)


def _choices(request: HttpRequest) -> tuple[str, str]:
    range_key = request.GET.get("range", "24h")
    dimension = request.GET.get("by", "model")
    return (range_key if range_key in usage.RANGES else "24h",
            dimension if dimension in usage.DIMENSIONS else "model")


@org_required
def home_page(request: HttpRequest, access: Access) -> HttpResponse:
    range_key, dimension = _choices(request)
    project = access_mod.current_project(request)
    project_id = str(project.id) if project else None
    context = usage.usage_context(access, range_key=range_key, dimension=dimension, project_id=project_id)
    context.update(usage.forecast_context(access, project_id=project_id))
    context.update(usage.top_context(access, since=context["since"], project_id=project_id))
    context.update({
        "project": project,
        "anomalies": panels.open_anomalies(access, project_id=project_id),
        "deliveries": panels.recent_alert_deliveries(access),
        "savings": panels.available_savings(access, project_id=project_id),
    })
    return render(request, "home/home.html", context)
