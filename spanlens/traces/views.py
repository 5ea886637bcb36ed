"""Pages: the trace list and one trace's waterfall with a span detail panel."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from spanlens.traces import payloads, queries, waterfall
from spanlens.traces.access import caller_from_session


def _organization_id(request: HttpRequest):
    caller = caller_from_session(request)
    if caller is None:
        raise Http404("no organization")
    return caller.organization_id


@login_required
def trace_list(request: HttpRequest) -> HttpResponse:
    organization_id = _organization_id(request)
    error = None
    try:
        filters = payloads.parse_trace_filters(request.GET)
    except payloads.PayloadError as exc:
        error, filters = str(exc), queries.TraceFilters()
    page = queries.list_traces(organization_id=organization_id, filters=filters)
    template = "traces/list.html#rows" if request.htmx and not error else "traces/list.html"
    return render(request, template, {"page": page, "filters": filters, "error": error, "query": request.GET})


@login_required
def trace_detail(request: HttpRequest, trace_id) -> HttpResponse:
    organization_id = _organization_id(request)
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
