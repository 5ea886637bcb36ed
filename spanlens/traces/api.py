"""JSON API: ingest from the SDK (API key) and reads (API key or signed-in member).

POST /api/v1/traces, /api/v1/spans: one object or a list; POST /api/v1/ingest:
{"traces": [...], "spans": [...]}. All are idempotent upserts, and take an API
key (the key's project owns new traces). Errors are {"success": false, "error":
"..."} with a 4xx naming the field. Who the caller is comes from
spanlens.core.access.api_auth.
"""
from __future__ import annotations

import functools
import json

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse

from spanlens.core.access import Access, api_auth
from spanlens.traces import payloads, queries, services
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


def _key_required() -> JsonResponse:
    return _error("sending traces needs a Spanlens API key (Authorization: Bearer sl_live_...)", 401)


class BodyTooLarge(payloads.PayloadError):
    status = 413


def _json_body(request):
    try:
        return json.loads(request.body or b"null")
    except RequestDataTooBig:
        raise BodyTooLarge("body: too large; send smaller batches") from None
    except (ValueError, UnicodeDecodeError):
        raise payloads.PayloadError("body: not valid JSON") from None
    except RecursionError:
        raise payloads.PayloadError(f"body: nested deeper than {payloads.MAX_DEPTH} levels") from None


def _ingest(access: Access, traces_raw, spans_raw) -> JsonResponse:
    try:
        traces, spans = payloads.parse_batch({"traces": traces_raw, "spans": spans_raw})
    except payloads.PayloadError as exc:
        return _error(str(exc), getattr(exc, "status", 400))
    try:
        result = services.ingest(
            organization_id=access.organization.id,
            project_id=access.api_key.project_id,
            traces=traces,
            spans=spans,
        )
    except services.IdConflict as exc:
        return _error(str(exc), 409)
    return JsonResponse({"success": True, "data": {"traces": result.traces, "spans": result.spans}})


def _as_list(body) -> list:
    return body if isinstance(body, list) else [body]


def _posted(request, access: Access, shape):
    """The API key check and JSON body every ingest endpoint shares; shape() turns the body
    into (traces, spans) or None when it has the wrong form."""
    if access.api_key is None:
        return _key_required()
    try:
        body = _json_body(request)
    except payloads.PayloadError as exc:
        return _error(str(exc), getattr(exc, "status", 400))
    parts = shape(body)
    if parts is None:
        return _error("body: must be an object with traces and spans lists", 400)
    return _ingest(access, *parts)


@_allow("POST")
@api_auth
def ingest(request, access: Access):
    return _posted(
        request, access, lambda body: (body.get("traces"), body.get("spans")) if isinstance(body, dict) else None
    )


@_allow("GET", "POST")
@api_auth
def traces(request, access: Access):
    if request.method == "GET":
        return _list_traces(request, access)
    return _posted(request, access, lambda body: (_as_list(body), []))


@_allow("POST")
@api_auth
def spans(request, access: Access):
    return _posted(request, access, lambda body: ([], _as_list(body)))


def _list_traces(request, access: Access) -> JsonResponse:
    try:
        filters = payloads.parse_trace_filters(request.GET)
    except payloads.PayloadError as exc:
        return _error(str(exc), 400)
    page = queries.list_traces(organization_id=access.organization.id, filters=filters)
    return JsonResponse(
        {
            "success": True,
            "data": [trace_json(t) for t in page.traces],
            "meta": {"total": page.total, "page": page.page, "limit": page.limit, "pages": page.pages},
        }
    )


@_allow("GET")
@api_auth
def trace_detail(request, access: Access, trace_id):
    trace = queries.get_trace(organization_id=access.organization.id, trace_id=trace_id)
    if trace is None:
        return _error("trace not found", 404)
    spans = queries.list_spans(organization_id=access.organization.id, trace_id=trace.id)
    data = trace_json(trace) | {"spans": [span_json(s) for s in spans]}
    return JsonResponse({"success": True, "data": data, "meta": {"span_count": len(spans)}})
