"""The JSON API under /api/v1/: { success, data, meta } on success,
{ success: false, error } with a 4xx otherwise."""
from __future__ import annotations

import orjson
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from dashboard import filters as filters_mod
from dashboard import replay, rows as rows_mod
from spanlens.core import formatting
from spanlens.core.access import Access, api_auth, api_error, get_project_or_404, require_write, uuid_or_404
from spanlens.requestlog import queries


@require_GET
@api_auth
def list_requests(request: HttpRequest, access: Access) -> JsonResponse:
    try:
        f = filters_mod.parse(request.GET, organization_id=access.organization.id)
    except filters_mod.FilterError as exc:
        return api_error(f"invalid parameter {exc.param}: {exc.message}", 400)
    if f.projectId:
        get_project_or_404(access, f.projectId)
    result = queries.list_requests(
        organization_id=access.organization.id,
        retention_days=access.retention_days,
        page=f.page,
        limit=f.limit,
        **f.query_kwargs(),
    )
    data = [rows_mod.to_json(r) for r in rows_mod.with_key_names(access.organization.id, result["rows"])]
    return JsonResponse(
        {"success": True, "data": data, "meta": {"total": result["total"], "page": f.page, "limit": f.limit}}
    )


@require_GET
@api_auth
def get_request(request: HttpRequest, access: Access, request_id) -> JsonResponse:
    row = _request_or_404(access, request_id)
    return JsonResponse({"success": True, "data": rows_mod.to_json(row)})


@require_POST
@api_auth
def replay_snippet(request: HttpRequest, access: Access, request_id) -> JsonResponse:
    row = _request_or_404(access, request_id)
    model, error = _model_from_body(request)
    if error:
        return error
    snippet = replay.curl_snippet(row, model)
    return JsonResponse({"success": True, "data": {"curl": snippet, "model": model or row["model"]}})


@require_POST
@api_auth
def replay_run(request: HttpRequest, access: Access, request_id) -> JsonResponse:
    require_write(access)
    row = _request_or_404(access, request_id)
    model, error = _model_from_body(request)
    if error:
        return error
    try:
        result = replay.run(access, row, model)
    except replay.ReplayError as exc:
        return api_error(str(exc), 400)
    # The dashboard shows the figures as every page does; the raw numbers stay beside them.
    result["display"] = {"latency": formatting.duration_ms(result.get("latency_ms")),
                         "cost": formatting.usd(result.get("cost_usd")),
                         "tokens": formatting.tokens(result.get("total_tokens")),
                         "prompt_tokens": formatting.tokens(result.get("prompt_tokens")),
                         "completion_tokens": formatting.tokens(result.get("completion_tokens"))}
    return JsonResponse({"success": True, "data": result})


def _request_or_404(access: Access, request_id) -> dict:
    row = queries.get_request(
        organization_id=access.organization.id,
        request_id=uuid_or_404(request_id),
        retention_days=access.retention_days,
    )
    if row is None:
        raise Http404("No such request")
    return rows_mod.with_key_names(access.organization.id, [row])[0]


def _model_from_body(request: HttpRequest) -> tuple[str | None, JsonResponse | None]:
    """Optional {"model": "..."} from a JSON or form body."""
    model = None
    if request.content_type == "application/json" and request.body:
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return None, api_error("body must be JSON", 400)
        if not isinstance(body, dict):
            return None, api_error("body must be a JSON object", 400)
        model = body.get("model")
    else:
        model = request.POST.get("model")
    if model is not None and (not isinstance(model, str) or len(model) > 200):
        return None, api_error("invalid parameter model: must be a model name", 400)
    return (model or None), None


@csrf_exempt  # it changes nothing; a write to an unknown path gets this JSON 404, not the CSRF page
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other /api/ path: the API's JSON error, not the dashboard's HTML 404 page."""
    return JsonResponse({"success": False, "error": f"No API endpoint at {request.path}."}, status=404)
