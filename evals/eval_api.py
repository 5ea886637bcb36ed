"""JSON API for evaluators, eval runs and datasets, in the {success, data, meta} shape.

Session cookie (CSRF on writes) or `Authorization: Bearer sl_live_...`. Bad input is a
400 naming the field; another organization's ids are 404.
"""
from __future__ import annotations

import functools
import json
import uuid

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, JsonResponse

from evals import dataset_services, eval_services, lookups
from evals.dataset_services import DatasetError
from evals.eval_services import EvalError
from evals.models import Dataset, EvalResult, EvalRun, Evaluator
from evals.serializers import dataset_json, evaluator_json, item_json, result_json, run_json
from spanlens.core.access import Access, api_auth, require_write
from spanlens.core.models import Project


def error(message: str, status: int = 400, field: str | None = None) -> JsonResponse:
    body = {"success": False, "error": message}
    if field:
        body["field"] = field
    return JsonResponse(body, status=status)


def ok(data, meta: dict | None = None, status: int = 200) -> JsonResponse:
    return JsonResponse({"success": True, "data": data, "meta": meta or {}}, status=status)


class BadBody(Exception):
    pass


def _body(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadBody("body: not valid JSON") from None
    if not isinstance(data, dict):
        raise BadBody("body: must be a JSON object")
    return data


def endpoint(*methods: str):
    """Method check, auth, and the errors every endpoint turns into 4xx JSON."""

    def decorator(view):
        @api_auth
        @functools.wraps(view)
        def wrapper(request, access: Access, *args, **kwargs):
            if request.method not in methods:
                response = error(f"method {request.method} not allowed; use {' or '.join(methods)}", 405)
                response["Allow"] = ", ".join(methods)
                return response
            if request.method not in ("GET", "HEAD"):
                require_write(access)
            try:
                return view(request, access, *args, **kwargs)
            except BadBody as exc:
                return error(str(exc), 400, "body")
            except (EvalError, DatasetError) as exc:
                return error(str(exc), 400, exc.field)

        return wrapper

    return decorator


def _page(request: HttpRequest, queryset, default_limit: int = 50):
    try:
        limit = min(max(int(request.GET.get("limit", default_limit)), 1), 500)
        page = max(int(request.GET.get("page", 1)), 1)
    except ValueError:
        raise EvalError("page", "page and limit must be whole numbers") from None
    paginator = Paginator(queryset, limit)
    current = paginator.get_page(page)
    return current, {"total": paginator.count, "page": current.number, "limit": limit, "pages": paginator.num_pages}


# --- evaluators ---------------------------------------------------------------------------

@endpoint("GET", "POST")
def evaluators(request: HttpRequest, access: Access) -> JsonResponse:
    if request.method == "GET":
        rows = Evaluator.objects.filter(organization=access.organization)
        current, meta = _page(request, rows)
        return ok([evaluator_json(e, e.runs.first()) for e in current], meta)
    data = _body(request)
    project = _project(access, data.get("project_id"))
    evaluator = eval_services.create_evaluator(
        access.organization, name=data.get("name"), type=data.get("type"), config=data.get("config") or {},
        pass_threshold=data.get("pass_threshold"), project=project, user=_user(request, access))
    return ok(evaluator_json(evaluator), status=201)


def _user(request, access: Access):
    return request.user if access.membership is not None else None


def _project(access: Access, project_id):
    """The named project of this organization; by default the API key's own."""
    if not project_id:
        return access.api_key.project if access.api_key else None
    try:
        return Project.objects.get(organization=access.organization, id=uuid.UUID(str(project_id)))
    except (Project.DoesNotExist, ValueError):
        raise EvalError("project_id", "is not a project of this organization") from None


@endpoint("GET", "PATCH", "DELETE")
def evaluator_detail(request: HttpRequest, access: Access, evaluator_id: str) -> JsonResponse:
    evaluator = lookups.evaluator_or_404(access, evaluator_id)
    if request.method == "DELETE":
        eval_services.delete_evaluator(evaluator)
        return ok({"id": evaluator_id, "deleted": True})
    if request.method == "PATCH":
        data = _body(request)
        eval_services.update_evaluator(
            evaluator, name=data.get("name"), config=data.get("config"),
            pass_threshold=data["pass_threshold"] if "pass_threshold" in data else "keep",
            project=_project(access, data["project_id"]) if data.get("project_id") else "keep")
    runs = list(evaluator.runs.all()[:20])
    return ok(evaluator_json(evaluator, runs[0] if runs else None) | {"runs": [run_json(r) for r in runs]})


# --- eval runs ------------------------------------------------------------------------------

@endpoint("GET", "POST")
def eval_runs(request: HttpRequest, access: Access) -> JsonResponse:
    if request.method == "GET":
        rows = EvalRun.objects.filter(organization=access.organization)
        if request.GET.get("evaluator"):
            rows = rows.filter(evaluator=eval_services.find_evaluator(access.organization, request.GET["evaluator"]))
        if request.GET.get("status"):
            rows = rows.filter(status=request.GET["status"])
        current, meta = _page(request, rows)
        return ok([run_json(r) for r in current], meta)
    data = _body(request)
    evaluator = eval_services.find_evaluator(access.organization, data.get("evaluator") or data.get("evaluator_id"))
    req = eval_services.parse_run_request(access.organization, data)
    guess = eval_services.estimate(access.organization, evaluator, req)
    if data.get("estimate_only"):
        return ok({"estimate": guess.as_dict()})
    run = eval_services.start_eval_run(access.organization, evaluator, req, user=_user(request, access))
    return ok(run_json(run), {"estimate": guess.as_dict()}, status=201)


@endpoint("GET")
def eval_run_detail(request: HttpRequest, access: Access, run_id: str) -> JsonResponse:
    run = lookups.run_or_404(access, run_id)
    summary = run.stats if run.status == EvalRun.Status.COMPLETED and run.stats else eval_services.summarize(run)
    lowest = [result_json(r) for r in eval_services.lowest(run)]
    return ok(run_json(run, summary), {"lowest": lowest})


@endpoint("GET")
def eval_run_results(request: HttpRequest, access: Access, run_id: str) -> JsonResponse:
    run = lookups.run_or_404(access, run_id)
    rows = run.results.all()
    status = request.GET.get("status")
    if status:
        if status not in EvalResult.Status.values:
            raise EvalError("status", f"must be one of {', '.join(EvalResult.Status.values)}")
        rows = rows.filter(status=status)
    current, meta = _page(request, rows, 100)
    return ok([result_json(r) for r in current], meta)


@endpoint("POST")
def eval_run_retry(request: HttpRequest, access: Access, run_id: str) -> JsonResponse:
    run = lookups.run_or_404(access, run_id)
    count = eval_services.retry_failed(run)
    run.refresh_from_db()
    return ok(run_json(run), {"retried": count})


# --- datasets --------------------------------------------------------------------------------

@endpoint("GET", "POST")
def datasets(request: HttpRequest, access: Access) -> JsonResponse:
    if request.method == "GET":
        rows = Dataset.objects.filter(organization=access.organization).annotate(n=Count("items")).order_by("name")
        current, meta = _page(request, rows)
        return ok([dataset_json(d, d.n) for d in current], meta)
    data = _body(request)
    dataset = dataset_services.create_dataset(access.organization, name=data.get("name"),
                                              description=data.get("description") or "",
                                              project=_project(access, data.get("project_id")),
                                              user=_user(request, access))
    if data.get("items"):
        dataset_services.add_items(dataset, data["items"])
    return ok(dataset_json(dataset), status=201)


@endpoint("GET", "PATCH", "DELETE")
def dataset_detail(request: HttpRequest, access: Access, dataset_id: str) -> JsonResponse:
    dataset = lookups.dataset_or_404(access, dataset_id)
    if request.method == "DELETE":
        dataset_services.delete_dataset(dataset)
        return ok({"id": dataset_id, "deleted": True})
    if request.method == "PATCH":
        data = _body(request)
        dataset_services.update_dataset(dataset, name=data.get("name"), description=data.get("description"))
    return ok(dataset_json(dataset))


@endpoint("GET", "POST")
def dataset_items(request: HttpRequest, access: Access, dataset_id: str) -> JsonResponse:
    dataset = lookups.dataset_or_404(access, dataset_id)
    if request.method == "GET":
        current, meta = _page(request, dataset.items.all(), 100)
        return ok([item_json(i) for i in current], meta)
    data = _body(request)
    if "request_ids" in data:
        ids = data["request_ids"]
        if not isinstance(ids, list) or not ids:
            raise DatasetError("request_ids", "must be a non-empty list of request ids")
        from spanlens.requestlog import queries

        try:
            ids = [str(uuid.UUID(str(i))) for i in ids[:1001]]
        except ValueError:
            raise DatasetError("request_ids", "must be request ids (UUIDs)") from None
        rows = queries.list_requests_by_ids(organization_id=access.organization.id, request_ids=ids,
                                            retention_days=access.retention_days)
        added = dataset_services.add_requests(dataset, rows)
        return ok({"added": added}, {"not_found": len(set(map(str, ids))) - len(rows)}, status=201)
    items = data.get("items") if "items" in data else [data]
    created = dataset_services.add_items(dataset, items)
    return ok([item_json(i) for i in created], {"added": len(created)}, status=201)


@endpoint("GET", "PATCH", "DELETE")
def dataset_item_detail(request: HttpRequest, access: Access, dataset_id: str, item_id: str) -> JsonResponse:
    dataset = lookups.dataset_or_404(access, dataset_id)
    item = lookups.item_or_404(access, dataset, item_id)
    if request.method == "DELETE":
        dataset_services.delete_item(item)
        return ok({"id": item_id, "deleted": True})
    if request.method == "PATCH":
        dataset_services.update_item(item, _body(request))
    return ok(item_json(item))


@endpoint("POST")
def dataset_import(request: HttpRequest, access: Access, dataset_id: str) -> JsonResponse:
    """multipart (file, mapping, skip_invalid, dry_run) or JSON {content, format, mapping, skip_invalid, dry_run}."""
    dataset = lookups.dataset_or_404(access, dataset_id)
    if request.content_type.startswith("multipart/"):
        upload = request.FILES.get("file")
        if upload is None:
            raise DatasetError("file", "is required")
        content, filename = upload.read(), upload.name
        fields = request.POST
        try:
            mapping = json.loads(fields.get("mapping") or "null")
        except ValueError:
            raise DatasetError("mapping", "must be a JSON object of column: role") from None
    else:
        fields = _body(request)
        content, filename, mapping = fields.get("content"), "", fields.get("mapping")
        if not isinstance(content, str) or not content:
            raise DatasetError("content", "is required: the file's text")
    if mapping is not None and not isinstance(mapping, dict):
        raise DatasetError("mapping", "must be an object of column: role")
    truthy = lambda v: str(v).lower() in ("1", "true", "yes", "on")  # noqa: E731
    parsed, _ = dataset_services.parse_upload(content, filename=filename, fmt=str(fields.get("format") or ""),
                                              mapping=mapping)
    errors = [{"line": e.line, "reason": e.reason} for e in parsed.errors]
    meta = {"format": parsed.format, "columns": parsed.columns, "mapping": parsed.mapping, "rows": parsed.total,
            "valid": len(parsed.rows), "errors": errors}
    if truthy(fields.get("dry_run", False)):
        return ok({"imported": 0, "preview": [{"line": r.line, "input": r.input, "expected_output": r.expected_output,
                                                "metadata": r.metadata} for r in parsed.rows[:20]]}, meta)
    if parsed.errors and not truthy(fields.get("skip_invalid", False)):
        body = {"success": False, "field": "file",
                "error": f"{len(errors)} bad row(s); nothing imported. Fix them, or send skip_invalid=true to "
                         "import the other rows", "errors": errors, "meta": meta}
        return JsonResponse(body, status=400)
    result = dataset_services.import_rows(dataset, parsed, skip_invalid=True)
    return ok({"imported": result.imported, "skipped": len(result.skipped)}, meta, status=201)
