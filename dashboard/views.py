"""Dashboard pages. Each view: resolve access, parse input, call a query, render."""
from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dashboard import bodies, charts, export, replay
from dashboard import filters as filters_mod
from dashboard import rows as rows_mod
from spanlens.anomalies import services as anomaly_services
from spanlens.core import access as access_mod
from spanlens.core.access import Access, org_required
from spanlens.core.models import Project, ProviderKey
from spanlens.requestlog import queries
from spanlens.sharing.views import default_redirect


def favicon(request: HttpRequest) -> HttpResponse:
    # Browsers and feed readers ask for /favicon.ico whatever the page's <link> says.
    return redirect(static("favicon.svg"), permanent=True)


@login_required
@require_POST
def switch_org(request: HttpRequest) -> HttpResponse:
    org_id, _, project_id = request.POST.get("target", "").partition(":")
    access_mod.switch_organization(request, org_id, project_id)
    target = request.POST.get("next") or ""
    # Stay on the same page, but only ever redirect within this site; filters and
    # ids from the old organization would not apply, so the query string is dropped.
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) or not target.startswith("/"):
        target = "/requests/"
    return redirect(target.split("?", 1)[0])


# --- /requests ----------------------------------------------------------------

def page_filters(request: HttpRequest, access: Access) -> filters_mod.RequestFilters:
    """The list filters from the URL; bad values are dropped and shown as form errors."""
    f = filters_mod.parse(request.GET, strict=False, organization_id=access.organization.id)
    if f.projectId and not Project.objects.filter(organization=access.organization, id=f.projectId).exists():
        f.errors["projectId"] = "is not a project of this organization"
        f.projectId = ""
    if "projectId" not in request.GET:
        project = access_mod.current_project(request)
        f.projectId = str(project.id) if project else ""
    return f


def _list_context(access: Access, f: filters_mod.RequestFilters) -> dict:
    result = queries.list_requests(
        organization_id=access.organization.id,
        retention_days=access.retention_days,
        page=f.page,
        limit=f.limit,
        **f.query_kwargs(),
    )
    total = result["total"]
    pages = max((total + f.limit - 1) // f.limit, 1)
    rows = rows_mod.with_key_names(access.organization.id, result["rows"])
    for i, row in enumerate(rows):
        row["pos"] = f.offset + i
    return {
        "f": f,
        "rows": rows,
        "total": total,
        "pages": pages,
        "first_shown": f.offset + 1 if rows else 0,
        "last_shown": f.offset + len(rows),
        "prev_qs": f.querystring(page=f.page - 1) if f.page > 1 else None,
        "next_qs": f.querystring(page=f.page + 1) if f.page < pages else None,
        "qs": f.querystring(),
    }


def _stats_context(access: Access, f: filters_mod.RequestFilters) -> dict:
    # The strip and the bars describe the rows the filters select; sorting does not matter to them.
    kwargs = {k: v for k, v in f.query_kwargs().items() if k not in ("sort_by", "sort_dir")}
    project_id = kwargs.get("project_id")
    stats = queries.get_request_stats(
        organization_id=access.organization.id, retention_days=access.retention_days, **kwargs
    )
    days = queries.list_daily_traffic(
        organization_id=access.organization.id, retention_days=access.retention_days, **kwargs
    )
    hourly = stats["hourly"]
    return {
        "stats": stats,
        "anomalies": anomaly_services.count_active(access.organization.id, project_id),
        "spark_requests": charts.spark(charts.hourly_series(hourly, "requests"), label="Requests per hour"),
        "spark_latency": charts.spark(charts.hourly_series(hourly, "avg_latency_ms"), label="Latency per hour"),
        "spark_spend": charts.spark(charts.hourly_series(hourly, "spend_usd"), label="Spend per hour"),
        "spark_errors": charts.spark(charts.hourly_series(hourly, "errors"), label="Errors per hour"),
        "spark_anomalies": charts.spark(
            charts.hourly_series(anomaly_services.hourly_openings(access.organization.id, project_id=project_id),
                                 "anomalies"), label="Anomalies opened per hour"),
        "latency_hot": stats["avg_latency_ms"] > 1000,
        "errors_hot": stats["error_rate"] > 0.01,
        "bars": charts.daily_bars(days),
        "days_total": sum(int(d["requests"]) for d in days),
        "days_sampled": any(int(d.get("sampled_rows") or 0) for d in days),
        "stats_filtered": bool(f.params(projectId="", sortBy="", sortDir="", page="", limit="")),
        "stats_qs": f.querystring(sortBy="", sortDir="", page="", limit=""),
    }


@org_required
def requests_page(request: HttpRequest, access: Access) -> HttpResponse:
    if opened_default := default_redirect(request, access, "requests"):
        return opened_default
    f = page_filters(request, access)
    target = request.htmx.target if request.htmx else None
    if target == "request-list":
        response = render(request, "dashboard/requests.html#list", _list_context(access, f))
        if request.htmx.trigger == "filters":
            # The form sends every field, empty ones too; history gets the tidy URL.
            response["HX-Push-Url"] = f"/requests/?{f.querystring()}" if f.params() else "/requests/"
            # The strip and the 30-day bars follow the filters, swapped in beside the list.
            response.content += render(request, "dashboard/requests.html#stats",
                                       {**_stats_context(access, f), "stats_oob": True}).content
        return response
    if target == "stat-strip":
        return render(request, "dashboard/requests.html#stats", _stats_context(access, f))
    context = {
        **_list_context(access, f),
        **_stats_context(access, f),
        "projects": Project.objects.filter(organization=access.organization).order_by("name"),
        "provider_keys": ProviderKey.objects.filter(organization=access.organization).order_by("name"),
        "providers": ProviderKey.Provider.choices,
        "statuses": (("all", "All"), ("ok", "OK"), ("4xx", "4xx"), ("5xx", "5xx")),
        "flag_choices": flag_choices(),
        "default_project_id": str(project.id) if (project := access_mod.current_project(request)) else "",
    }
    return render(request, "dashboard/requests.html", context)


def flag_choices() -> list[tuple[str, str]]:
    from spanlens.security.detectors import KINDS
    from spanlens.security.highlight import label

    return [("", "All calls"), ("any", "Any flag"), ("pii", "Any PII or secret"), ("injection", "Any injection"),
            *((kind, label(kind)) for kind in KINDS)]


def _detail_context(access: Access, request_id: str) -> dict:
    row = queries.get_request(
        organization_id=access.organization.id,
        request_id=access_mod.uuid_or_404(request_id),
        retention_days=access.retention_days,
    )
    if row is None:
        raise Http404("No such request")
    row = rows_mod.with_key_names(access.organization.id, [row])[0]
    spans, span_count = [], 0
    if row.get("trace_id"):
        from spanlens.traces import queries as trace_queries

        all_spans = trace_queries.list_spans(organization_id=access.organization.id, trace_id=row["trace_id"])
        spans, span_count = all_spans[:8], len(all_spans)
    from spanlens.security import highlight

    security_findings = [
        *highlight.findings(row.get("flags") or [], row["request_body"], where="request"),
        *highlight.findings(row.get("response_flags") or [], row["response_body"], where="response"),
    ]
    request_data = bodies.load(row["request_body"])
    response_data = bodies.load(row["response_body"])
    return {
        "r": row,
        "conversation": bodies.conversation(row["provider"], request_data),
        "response_conversation": bodies.response_text(row["provider"], response_data),
        "response_tool_calls": bodies.response_tool_calls(row["provider"], response_data),
        "request_pretty": bodies.pretty(row["request_body"]),
        "response_pretty": bodies.pretty(row["response_body"]),
        "request_raw": row["request_body"],
        "spans": spans,
        "span_count": span_count,
        "security_findings": security_findings,
    }


# How far the drawer looks around a row's old position to find it again after
# new traffic has shifted the list.
REANCHOR = 50


def _neighbours(access: Access, f: filters_mod.RequestFilters, request_id: str, pos: int):
    """(pos, prev, next) of a row in the filtered list; pos is re-found if rows shifted."""
    start = max(pos - REANCHOR, 0)
    window = queries.list_request_window(
        organization_id=access.organization.id, retention_days=access.retention_days,
        offset=start, limit=2 * REANCHOR + 1, **f.query_kwargs(),
    )
    ids = [w["id"] for w in window]
    here = ids.index(request_id) if request_id in ids else pos - start
    prev = {"id": ids[here - 1], "pos": start + here - 1} if 0 < here <= len(ids) else None
    nxt = {"id": ids[here + 1], "pos": start + here + 1} if here + 1 < len(ids) else None
    return start + here, prev, nxt


@org_required
def request_drawer(request: HttpRequest, access: Access, request_id: str) -> HttpResponse:
    """The drawer for one row, with Prev/Next across page boundaries of the current list."""
    f = page_filters(request, access)
    context = _detail_context(access, request_id)
    try:
        pos = max(int(request.GET.get("pos", "")), 0)
    except ValueError:
        pos = None
    if pos is not None:
        pos, context["prev"], context["next"] = _neighbours(access, f, context["r"]["id"], pos)
        if pos // f.limit + 1 != f.page:
            # Stepped past the page edge: the list behind the drawer follows.
            f.page = pos // f.limit + 1
            context["list_oob"] = True
            context.update(_list_context(access, f))
    context["f"] = f
    context["qs"] = f.querystring()
    context["open_tab"] = "security" if request.GET.get("tab") == "security" else "request"
    response = render(request, "dashboard/_drawer.html", context)
    if context.get("list_oob"):
        response["HX-Push-Url"] = f"/requests/?{f.querystring()}"
    return response


@org_required
def request_detail(request: HttpRequest, access: Access, request_id: str) -> HttpResponse:
    return render(request, "dashboard/request_detail.html", _detail_context(access, request_id))


@org_required
def replay_modal(request: HttpRequest, access: Access, request_id: str) -> HttpResponse:
    context = _detail_context(access, request_id)
    context["models"] = replay.models_for(context["r"])
    context["can_write"] = access.can_write
    return render(request, "dashboard/_replay_modal.html", context)


EXPORT_COLUMNS = (*queries.SUMMARY_COLUMNS, "provider_key_name")


@org_required
def export_requests(request: HttpRequest, access: Access, fmt: str) -> HttpResponse:
    """The filtered list as CSV (no bodies) or JSON Lines (with bodies), streamed."""
    f = page_filters(request, access)
    names = {str(k.id): k.name for k in ProviderKey.objects.filter(organization=access.organization)}
    source = queries.iter_requests_for_export(
        organization_id=access.organization.id, retention_days=access.retention_days,
        with_bodies=fmt == "jsonl", **f.query_kwargs(),
    )

    def rows():
        for row in source:
            row = rows_mod.clean(row)
            row["provider_key_name"] = names.get(row.get("provider_key_id") or "")
            yield rows_mod.to_json(row)

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    lines = export.csv_lines(rows(), EXPORT_COLUMNS) if fmt == "csv" else export.jsonl_lines(rows())
    # Written whole before the first byte goes out: if the request log fails midway the
    # user gets an error (503), never a file that silently stops. Spills to disk when big.
    spooled = export.spool(lines)
    response = FileResponse(spooled, content_type="text/csv" if fmt == "csv" else "application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="spanlens-requests-{stamp}.{fmt}"'
    return response


# --- /users -------------------------------------------------------------------

USER_SORTS = (("cost_usd", "Spend"), ("requests", "Requests"), ("last_seen", "Last seen"))


@org_required
def users_page(request: HttpRequest, access: Access) -> HttpResponse:
    if opened_default := default_redirect(request, access, "users"):
        return opened_default
    sort_by = request.GET.get("sortBy", "cost_usd")
    sort_dir = request.GET.get("sortDir", "desc")
    if sort_by not in queries.USER_SORT_COLUMNS:
        sort_by = "cost_usd"
    if sort_dir not in ("asc", "desc"):
        sort_dir = "desc"
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    project = access_mod.current_project(request)
    limit = 50
    result = queries.list_users(
        organization_id=access.organization.id, retention_days=access.retention_days,
        project_id=str(project.id) if project else None,
        sort_by=sort_by, sort_dir=sort_dir, page=page, limit=limit,
    )
    users = []
    for row in result["rows"]:
        users.append({
            **row,
            "requests": int(row["requests"]),
            "total_tokens": int(row["total_tokens"]),
            "errors": int(row["errors"]),
            "cost_usd": float(row["cost_usd"] or 0),
            "unpriced": int(row.get("unpriced") or 0),
            "sampled": int(row.get("sampled_rows") or 0) > 0,
            "last_seen": rows_mod.parse_ts(row["last_seen"]),
            "link": "/requests/?" + urlencode({"userId": row["user_id"]}),
        })
    pages = max((result["total"] + limit - 1) // limit, 1)
    headers = [
        {"key": key, "label": label, "active": key == sort_by,
         "arrow": ("↓" if sort_dir == "desc" else "↑") if key == sort_by else "",
         "qs": urlencode({"sortBy": key, "sortDir": "asc" if key == sort_by and sort_dir == "desc" else "desc"})}
        for key, label in USER_SORTS
    ]
    return render(request, "dashboard/users.html", {
        "users": users, "total": result["total"], "page": page, "pages": pages, "headers": headers,
        "prev_qs": urlencode({"sortBy": sort_by, "sortDir": sort_dir, "page": page - 1}) if page > 1 else None,
        "next_qs": urlencode({"sortBy": sort_by, "sortDir": sort_dir, "page": page + 1}) if page < pages else None,
    })
