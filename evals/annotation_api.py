"""JSON API for annotation: score configs and queues, claiming the next item, scoring it,
progress and agreement; {success, data, meta}, 400 naming the field, 404 for other tenants."""
from __future__ import annotations

import functools

from django.http import HttpRequest, JsonResponse

from evals import annotation_services as ann
from evals.annotation_lookups import item_or_404, queue_or_404
from evals.eval_api import _body, endpoint, error, ok
from evals.models import AnnotationQueue, ScoreConfig
from spanlens.core.access import Access


def handles_annotation_errors(view):
    @functools.wraps(view)
    def wrapper(request, access: Access, *args, **kwargs):
        try:
            return view(request, access, *args, **kwargs)
        except ann.AnnotationError as exc:
            return error(str(exc), 400, exc.field)

    return wrapper


def config_json(c: ScoreConfig) -> dict:
    return {"id": str(c.id), "name": c.name, "kind": c.kind, "min_value": c.min_value, "max_value": c.max_value,
            "categories": c.categories, "description": c.description}


def item_json(item) -> dict:
    return {"id": item.id, "position": item.position, "input": item.input, "output": item.output,
            "request_id": str(item.request_id) if item.request_id else None,
            "annotations": item.annotations_count,
            "locked_until": item.locked_until.isoformat() if item.locked_until else None}


def queue_json(q: AnnotationQueue, user=None, *, detail: bool = False) -> dict:
    data = {"id": str(q.id), "name": q.name, "source": q.source, "score_config": config_json(q.score_config),
            "evaluator_id": str(q.evaluator_id) if q.evaluator_id else None,
            "experiment_run_id": str(q.experiment_run_id) if q.experiment_run_id else None,
            "reviewers_per_item": q.reviewers_per_item, "filters": q.filters,
            "created_at": q.created_at.isoformat(), "progress": ann.progress(q, user)}
    if detail:
        data["agreement"] = ann.agreement(q)
    return data


def _user(request):
    return request.user if request.user.is_authenticated else None


@endpoint("GET", "POST")
@handles_annotation_errors
def score_configs(request: HttpRequest, access: Access) -> JsonResponse:
    if request.method == "GET":
        return ok([config_json(c) for c in ScoreConfig.objects.filter(organization=access.organization)])
    data = _body(request)
    config = ann.create_score_config(access.organization, name=data.get("name"), kind=data.get("kind"),
                                     min_value=data.get("min_value"), max_value=data.get("max_value"),
                                     categories=data.get("categories"), description=data.get("description", ""))
    return ok(config_json(config), status=201)


@endpoint("GET", "POST")
@handles_annotation_errors
def queues(request: HttpRequest, access: Access) -> JsonResponse:
    if request.method == "GET":
        rows = AnnotationQueue.objects.filter(organization=access.organization).select_related("score_config")
        return ok([queue_json(q, _user(request)) for q in rows])
    data = _body(request)
    queue = ann.create_queue(
        access.organization, name=data.get("name"), score_config=data.get("score_config"),
        source=data.get("source"), experiment_run=data.get("experiment_run"), filters=data.get("filters"),
        evaluator=data.get("evaluator"), reviewers_per_item=data.get("reviewers_per_item", 1),
        limit=data.get("limit", 200), retention_days=access.retention_days, user=_user(request),
        description=data.get("description", ""))
    return ok(queue_json(queue, _user(request), detail=True), status=201)


@endpoint("GET", "DELETE")
def queue_detail(request: HttpRequest, access: Access, queue_id: str) -> JsonResponse:
    queue = queue_or_404(access, queue_id)
    if request.method == "DELETE":
        queue.delete()
        return ok({"deleted": True})
    return ok(queue_json(queue, _user(request), detail=True))


@endpoint("POST")
def queue_next(request: HttpRequest, access: Access, queue_id: str) -> JsonResponse:
    """Claims the next item for the signed-in reviewer (a session: reviews belong to people)."""
    queue = queue_or_404(access, queue_id)
    if _user(request) is None:
        return error("reviewer: sign in to review; API keys cannot hold items", 400, "reviewer")
    item = ann.claim_next(queue, request.user)
    return ok(item_json(item) if item else None, {"progress": ann.progress(queue, request.user)})


@endpoint("POST")
@handles_annotation_errors
def item_annotations(request: HttpRequest, access: Access, queue_id: str, item_id: str) -> JsonResponse:
    queue = queue_or_404(access, queue_id)
    item = item_or_404(access, queue, item_id)
    if _user(request) is None:
        return error("reviewer: sign in to review; API keys cannot score items", 400, "reviewer")
    data = _body(request)
    annotation = ann.annotate(item, request.user, data.get("value"), data.get("comment", ""))
    return ok({"id": annotation.id, "value": annotation.value, "label": annotation.label},
              {"progress": ann.progress(queue, request.user)}, status=201)
