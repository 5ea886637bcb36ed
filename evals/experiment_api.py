"""JSON API for experiments, in the {success, data, meta} shape (session or Bearer key).
Bad input is a 400 naming the field; another organization's ids are 404."""
from __future__ import annotations

import functools

from django.http import HttpRequest, JsonResponse

from evals import experiment_results, experiment_services
from evals.eval_api import _body, endpoint, error, ok
from evals.experiment_lookups import experiment_or_404, experiment_run_or_404
from evals.experiment_services import ExperimentError
from evals.models import Experiment
from spanlens.core.access import Access


def handles_experiment_errors(view):
    @functools.wraps(view)
    def wrapper(request, access: Access, *args, **kwargs):
        try:
            return view(request, access, *args, **kwargs)
        except ExperimentError as exc:
            return error(str(exc), 400, exc.field)

    return wrapper


def variant_json(v) -> dict:
    return {"position": v.position, "name": v.name, "provider": v.provider, "model": v.model,
            "prompt_version_id": str(v.prompt_version_id) if v.prompt_version_id else None,
            "settings": v.settings, "recorded": v.recorded}


def run_json(run, *, summary: bool = True) -> dict:
    data = {"id": str(run.id), "experiment_id": str(run.experiment_id), "number": run.number, "status": run.status,
            "total": run.total, "cost_usd": float(run.cost_usd), "error": run.error, "resumes": run.resumes,
            "created_at": run.created_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "progress": experiment_results.progress(run)}
    if summary:
        data["summary"] = run.stats if run.stats else (experiment_results.summarize(run) if run.prepared else {})
    return data


def experiment_json(e: Experiment, *, detail: bool = False) -> dict:
    latest = e.runs.first()
    data = {"id": str(e.id), "name": e.name, "kind": e.kind, "dataset_id": str(e.dataset_id) if e.dataset_id else None,
            "evaluator_ids": e.evaluator_ids, "repetitions": e.repetitions, "baseline": e.baseline_position,
            "items": e.items.count(), "variants": [variant_json(v) for v in e.variants.all()],
            "created_at": e.created_at.isoformat(), "latest_run": run_json(latest, summary=detail) if latest else None}
    if detail:
        data["runs"] = [run_json(r, summary=False) for r in e.runs.all()]
        data["history"] = experiment_results.history(e)
    return data


@endpoint("GET", "POST")
@handles_experiment_errors
def experiments(request: HttpRequest, access: Access) -> JsonResponse:
    if request.method == "GET":
        rows = Experiment.objects.filter(organization=access.organization).prefetch_related("variants")[:200]
        return ok([experiment_json(e) for e in rows], {"count": len(rows)})
    data = _body(request)
    experiment = experiment_services.create_experiment(
        access.organization, name=data.get("name"), dataset=data.get("dataset"), variants=data.get("variants"),
        evaluators=data.get("evaluators") or [], repetitions=data.get("repetitions"), baseline=data.get("baseline"),
        user=request.user if request.user.is_authenticated else None)
    if data.get("start", True):
        experiment_services.start_run(experiment)
    return ok(experiment_json(experiment, detail=True), status=201)


@endpoint("POST")
@handles_experiment_errors
def external_runs(request: HttpRequest, access: Access) -> JsonResponse:
    """The SDK's first step: a run waiting for the outputs of the caller's code, with its items."""
    data = _body(request)
    run = experiment_services.open_external_run(
        access.organization, name=data.get("name"), dataset=data.get("dataset"), variants=data.get("variants"),
        evaluators=data.get("evaluators") or [], baseline=data.get("baseline"),
        user=request.user if request.user.is_authenticated else None)
    items = [{"id": i.id, "input": i.input, "expected_output": i.expected_output, "metadata": i.metadata}
             for i in run.experiment.items.all()]
    return ok(run_json(run, summary=False), {"items": items}, status=201)


@endpoint("POST")
@handles_experiment_errors
def replays(request: HttpRequest, access: Access) -> JsonResponse:
    """Bulk replay: `filters` as on /requests, the target `provider` / `model` / `prompt_version`."""
    from django.http import QueryDict

    from dashboard import filters as filters_mod
    from evals import experiment_replay

    data = _body(request)
    raw = data.get("filters") or {}
    if not isinstance(raw, dict):
        return error("filters: must be an object of /requests filters", 400, "filters")
    query = QueryDict(mutable=True)
    query.update({k: str(v) for k, v in raw.items()})
    f = filters_mod.parse(query, strict=False, organization_id=access.organization.id)
    if f.errors:
        name, message = next(iter(f.errors.items()))
        return error(f"filters.{name}: {message}", 400, f"filters.{name}")
    kwargs = f.query_kwargs()
    rows = experiment_replay.read_rows(access.organization, kwargs, retention_days=access.retention_days)
    candidate = {k: data[k] for k in ("provider", "model", "prompt_version", "temperature", "max_tokens")
                 if data.get(k) not in (None, "")}
    experiment = experiment_replay.create_replay(
        access.organization, rows, candidate=candidate, evaluators=data.get("evaluators") or [],
        name=data.get("name") or "", filters=f.params(),
        monthly=experiment_replay.monthly_requests(access.organization, kwargs, retention_days=access.retention_days),
        user=request.user if request.user.is_authenticated else None)
    experiment_services.start_run(experiment)
    return ok(experiment_json(experiment, detail=True), status=201)


@endpoint("GET", "DELETE")
def experiment_detail(request: HttpRequest, access: Access, experiment_id: str) -> JsonResponse:
    experiment = experiment_or_404(access, experiment_id)
    if request.method == "DELETE":
        experiment_services.delete_experiment(experiment)
        return ok({"deleted": True})
    return ok(experiment_json(experiment, detail=True))


@endpoint("GET", "POST")
def experiment_runs(request: HttpRequest, access: Access, experiment_id: str) -> JsonResponse:
    experiment = experiment_or_404(access, experiment_id)
    if request.method == "POST":
        if experiment.kind == Experiment.Kind.EXTERNAL:
            return error("experiment: runs of your own code are started from the SDK", 400, "experiment")
        return ok(run_json(experiment_services.start_run(experiment), summary=False), status=201)
    return ok([run_json(r, summary=False) for r in experiment.runs.all()])


@endpoint("GET")
def experiment_run_detail(request: HttpRequest, access: Access, experiment_id: str, run_id: str) -> JsonResponse:
    run = experiment_run_or_404(access, experiment_id, run_id)
    return ok(run_json(run))


@endpoint("GET")
def experiment_run_results(request: HttpRequest, access: Access, experiment_id: str, run_id: str) -> JsonResponse:
    run = experiment_run_or_404(access, experiment_id, run_id)
    try:
        limit = min(max(int(request.GET.get("limit", 100)), 1), 500)
        offset = max(int(request.GET.get("offset", 0)), 0)
    except ValueError:
        return error("limit: limit and offset must be whole numbers", 400, "limit")
    rows = []
    for row in experiment_results.table(run, limit=limit, offset=offset):
        item = row["item"]
        rows.append({"item": {"id": item.id, "position": item.position, "input": item.input,
                              "expected_output": item.expected_output},
                     "variants": [{"position": c["variant"].position, "name": c["variant"].name, "results": [
                         {"repetition": r.repetition, "status": r.status, "output": r.output, "error": r.error,
                          "latency_ms": r.latency_ms, "tokens": r.prompt_tokens + r.completion_tokens,
                          "cost_usd": float(r.cost_usd) if r.cost_usd is not None else None,
                          "request_id": str(r.request_id) if r.request_id else None,
                          "scores": [{"evaluator_id": str(s.evaluator_id), "status": s.status, "score": s.score,
                                      "passed": s.passed, "reasoning": s.reasoning, "error": s.error}
                                     for s in r.scores.all()]}
                         for r in c["results"]]} for c in row["cells"]]})
    return ok(rows, {"limit": limit, "offset": offset, "items": run.experiment.items.count()})


@endpoint("POST")
@handles_experiment_errors
def experiment_run_outputs(request: HttpRequest, access: Access, experiment_id: str, run_id: str) -> JsonResponse:
    run = experiment_run_or_404(access, experiment_id, run_id)
    written = experiment_services.record_outputs(run, _body(request).get("outputs"))
    run.refresh_from_db()
    return ok(run_json(run, summary=False), {"written": written})

