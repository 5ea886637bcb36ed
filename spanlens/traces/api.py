"""JSON API: ingest from the SDK (API key) and reads (API key or signed-in member).

POST /api/v1/traces, /api/v1/spans: one object or a list; POST /api/v1/ingest:
{"traces": [...], "spans": [...]}. All are idempotent upserts. Errors are
{"success": false, "error": "..."} with a 4xx naming the field.
"""
from __future__ import annotations

import functools
import json

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from spanlens.traces import payloads, queries, services
from spanlens.traces.access import Caller, caller_from_api_key, caller_from_session
from spanlens.traces.serializers import span_json, trace_json


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"success": False, "error": message}, status=status)


def _allow(*methods: str):
    """Like require_http_methods, but the 405 is JSON in the API's error shape."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = _error(f"method {request.method} not allowed; use {' or '.join(methods)}", 405)
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _unauthorized() -> JsonResponse:
    return _error("a valid Spanlens API key is required (Authorization: Bearer sl_live_...)", 401)


def _json_body(request):
    try:
        return json.loads(request.body or b"null")
    except RequestDataTooBig:
        raise payloads.PayloadError("body: too large; send smaller batches") from None
    except (ValueError, UnicodeDecodeError):
        raise payloads.PayloadError("body: not valid JSON") from None


def _ingest(request, caller: Caller, traces_raw, spans_raw) -> JsonResponse:
    try:
        traces, spans = payloads.parse_batch({"traces": traces_raw, "spans": spans_raw})
    except payloads.PayloadError as exc:
        return _error(str(exc), 400)
    try:
        result = services.ingest(
            organization_id=caller.organization_id,
            project_id=caller.project_id,
            traces=traces,
            spans=spans,
        )
    except services.IdConflict as exc:
        return _error(str(exc), 409)
    return JsonResponse({"success": True, "data": {"traces": result.traces, "spans": result.spans}})


def _as_list(body) -> list:
    return body if isinstance(body, list) else [body]


@csrf_exempt
@_allow("POST")
def ingest(request):
    caller = caller_from_api_key(request)
    if caller is None:
        return _unauthorized()
    try:
        body = _json_body(request)
    except payloads.PayloadError as exc:
        return _error(str(exc), 400)
    if not isinstance(body, dict):
        return _error("body: must be an object with traces and spans lists", 400)
    return _ingest(request, caller, body.get("traces"), body.get("spans"))


@csrf_exempt
@_allow("GET", "POST")
def traces(request):
    if request.method == "GET":
        return _list_traces(request)
    caller = caller_from_api_key(request)
    if caller is None:
        return _unauthorized()
    try:
        body = _json_body(request)
    except payloads.PayloadError as exc:
        return _error(str(exc), 400)
    return _ingest(request, caller, _as_list(body), [])


@csrf_exempt
@_allow("POST")
def spans(request):
    caller = caller_from_api_key(request)
    if caller is None:
        return _unauthorized()
    try:
        body = _json_body(request)
    except payloads.PayloadError as exc:
        return _error(str(exc), 400)
    return _ingest(request, caller, [], _as_list(body))


def _list_traces(request) -> JsonResponse:
    caller = caller_from_api_key(request) or caller_from_session(request)
    if caller is None:
        return _unauthorized()
    try:
        filters = payloads.parse_trace_filters(request.GET)
    except payloads.PayloadError as exc:
        return _error(str(exc), 400)
    page = queries.list_traces(organization_id=caller.organization_id, filters=filters)
    return JsonResponse(
        {
            "success": True,
            "data": [trace_json(t) for t in page.traces],
            "meta": {"total": page.total, "page": page.page, "limit": page.limit, "pages": page.pages},
        }
    )


@_allow("GET")
def trace_detail(request, trace_id):
    caller = caller_from_api_key(request) or caller_from_session(request)
    if caller is None:
        return _unauthorized()
    trace = queries.get_trace(organization_id=caller.organization_id, trace_id=trace_id)
    if trace is None:
        return _error("trace not found", 404)
    spans = queries.list_spans(organization_id=caller.organization_id, trace_id=trace.id)
    data = trace_json(trace) | {"spans": [span_json(s) for s in spans]}
    return JsonResponse({"success": True, "data": data, "meta": {"span_count": len(spans)}})
