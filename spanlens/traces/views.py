"""Pages: the trace list and one trace's waterfall with a span detail panel."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from spanlens.core.access import Access, current_project, org_required
from spanlens.sharing.views import default_redirect
from spanlens.traces import payloads, queries, waterfall


@org_required
def trace_list(request: HttpRequest, access: Access) -> HttpResponse:
    if opened_default := default_redirect(request, access, "traces"):
        return opened_default
    error = None
    try:
        filters = payloads.parse_trace_filters(request.GET)
    except payloads.PayloadError as exc:
        error, filters = str(exc), queries.TraceFilters()
    project = current_project(request)
    filters.project_id = project.id if project else None
    page = queries.list_traces(organization_id=access.organization.id, filters=filters)
    template = "traces/list.html#rows" if request.htmx else "traces/list.html"
    return render(request, template, {"page": page, "filters": filters, "error": error, "query": request.GET})


@org_required
def trace_detail(request: HttpRequest, access: Access, trace_id: str) -> HttpResponse:
    organization_id = access.organization.id
    trace = queries.get_trace(organization_id=organization_id, trace_id=trace_id)
    if trace is None:
        raise Http404("trace not found")
    spans = queries.list_spans(organization_id=organization_id, trace_id=trace.id)
    selected = None
    if request.GET.get("span"):
        selected = queries.get_span(organization_id=organization_id, trace_id=trace.id, span_id=request.GET["span"])
    context = {"trace": trace, "waterfall": waterfall.build(trace, spans), "selected": selected}
    if request.htmx and selected is not None:
        return render(request, "traces/detail.html#span-panel", context)
    return render(request, "traces/detail.html", context)
