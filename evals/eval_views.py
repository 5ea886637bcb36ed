"""Pages: evaluators (/evals), one evaluator's runs, a run's live progress and results,
datasets and their items. Thin: parse the form, call a service, render."""
from __future__ import annotations

import json

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.html import escape
from django.views.decorators.http import require_POST

from evals import dataset_services, eval_services, importers, judge, lookups
from evals.dataset_services import DatasetError
from evals.eval_services import EvalError
from evals.models import Dataset, EvalResult, EvalRun, Evaluator
from spanlens.core.access import Access, current_project, org_required, require_write
from spanlens.core.models import Project

PROVIDERS = [(p, p.title() if p != "openai" else "OpenAI") for p in judge.PROVIDERS]
RESULTS_PER_PAGE = 100


# --- evaluators ---------------------------------------------------------------------------

@org_required
def evaluator_list(request: HttpRequest, access: Access) -> HttpResponse:
    rows = []
    for evaluator in Evaluator.objects.filter(organization=access.organization):
        done = list(evaluator.runs.filter(status=EvalRun.Status.COMPLETED, avg_score__isnull=False)
                    .values_list("avg_score", flat=True)[:12])
        latest = evaluator.runs.first()
        rows.append({"e": evaluator, "latest": latest, "score": done[0] if done else None,
                     "trend": trend_svg(list(reversed(done))) if len(done) > 1 else None})
    return render(request, "evals/evaluation/list.html", {"rows": rows, "can_write": access.can_write})


def _evaluator_form_data(post) -> dict:
    """The evaluator form as the service's arguments."""
    kind = post.get("type", "")
    if kind == Evaluator.Type.LLM_JUDGE:
        anchors = []
        for line in (post.get("anchors") or "").splitlines():
            if "|" in line:
                score, example = line.split("|", 1)
                anchors.append({"score": score.strip(), "example": example.strip()})
            elif line.strip():
                anchors.append({"score": None, "example": line.strip()})
        config = {
            "criterion": post.get("criterion", ""), "rubric": post.get("rubric", ""), "anchors": anchors,
            "judge_provider": post.get("judge_provider", ""), "judge_model": post.get("judge_model", ""),
            "scale_min": post.get("scale_min", "1") or "1", "scale_max": post.get("scale_max", "5") or "5",
            "fields": {"input": post.get("field_input") == "on", "expected_output": post.get("field_expected") == "on",
                       "context": post.get("field_context", "")},
        }
    else:
        config = {"case_sensitive": post.get("case_sensitive") == "on", "value": post.get("value", ""),
                  "pattern": post.get("pattern", ""), "flags": post.get("flags", ""),
                  "schema": post.get("schema", "")}
    return {"name": post.get("name", ""), "type": kind, "config": config,
            "pass_threshold": post.get("pass_threshold", "")}


def _form_context(access: Access, values: dict, errors: dict, evaluator: Evaluator | None = None) -> dict:
    return {"values": values, "errors": errors, "evaluator": evaluator, "types": Evaluator.Type.choices,
            "providers": PROVIDERS,
            "projects": Project.objects.filter(organization=access.organization).order_by("name")}


def _initial_values(evaluator: Evaluator | None) -> dict:
    if evaluator is None:
        return {"type": "llm_judge", "judge_provider": "openai", "judge_model": "gpt-4o-mini", "scale_min": "1",
                "scale_max": "5", "field_input": True, "field_expected": True, "pass_threshold": "0.7"}
    c = evaluator.config
    values = {"name": evaluator.name, "type": evaluator.type,
              "pass_threshold": "" if evaluator.pass_threshold is None else f"{evaluator.pass_threshold:g}",
              "project": str(evaluator.project_id or "")}
    if evaluator.is_judge:
        values.update(criterion=c["criterion"], rubric=c.get("rubric", ""), judge_provider=c["judge_provider"],
                      judge_model=c["judge_model"], scale_min=f"{c['scale_min']:g}", scale_max=f"{c['scale_max']:g}",
                      field_input=c["fields"]["input"], field_expected=c["fields"]["expected_output"],
                      field_context=c["fields"]["context"],
                      anchors="\n".join(f"{a['score']:g} | {a['example']}" for a in c.get("anchors", [])))
    else:
        values.update(case_sensitive=c.get("case_sensitive", False), value=c.get("value", ""),
                      pattern=c.get("pattern", ""), flags=c.get("flags", ""),
                      schema=json.dumps(c["schema"], indent=2) if "schema" in c else "")
    return values


def _project_from(access: Access, value: str):
    if not value:
        return None
    return Project.objects.filter(organization=access.organization, id=lookups.uuid_or_404(value)).first()


@org_required
def evaluator_new(request: HttpRequest, access: Access) -> HttpResponse:
    values, errors = _initial_values(None), {}
    if request.method == "POST":
        require_write(access)
        values = {**request.POST.dict(), "field_input": request.POST.get("field_input") == "on",
                  "field_expected": request.POST.get("field_expected") == "on",
                  "case_sensitive": request.POST.get("case_sensitive") == "on"}
        try:
            evaluator = eval_services.create_evaluator(
                access.organization, **_evaluator_form_data(request.POST),
                project=_project_from(access, request.POST.get("project", "")), user=request.user)
        except EvalError as exc:
            errors[exc.field] = exc.message
        else:
            messages.success(request, f"Evaluator “{evaluator.name}” created. Start a run below.")
            return redirect(f"/evals/{evaluator.id}/")
    return render(request, "evals/evaluation/form.html", _form_context(access, values, errors),
                  status=400 if errors else 200)


@org_required
def evaluator_edit(request: HttpRequest, access: Access, evaluator_id: str) -> HttpResponse:
    evaluator = lookups.evaluator_or_404(access, evaluator_id)
    values, errors = _initial_values(evaluator), {}
    if request.method == "POST":
        require_write(access)
        if request.POST.get("action") == "delete":
            eval_services.delete_evaluator(evaluator)
            messages.success(request, f"Evaluator “{evaluator.name}” deleted.")
            return redirect("/evals/")
        values = {**request.POST.dict(), "type": evaluator.type,
                  "field_input": request.POST.get("field_input") == "on",
                  "field_expected": request.POST.get("field_expected") == "on",
                  "case_sensitive": request.POST.get("case_sensitive") == "on"}
        data = _evaluator_form_data({**request.POST.dict(), "type": evaluator.type})
        try:
            eval_services.update_evaluator(evaluator, name=data["name"], config=data["config"],
                                           pass_threshold=data["pass_threshold"],
                                           project=_project_from(access, request.POST.get("project", "")))
        except EvalError as exc:
            errors[exc.field] = exc.message
        else:
            messages.success(request, "Saved. Runs already made keep the settings they ran with.")
            return redirect(f"/evals/{evaluator.id}/")
    return render(request, "evals/evaluation/form.html", _form_context(access, values, errors, evaluator),
                  status=400 if errors else 200)


def _run_form_context(access: Access, evaluator: Evaluator, values: dict, errors: dict) -> dict:
    return {
        "evaluator": evaluator, "values": values, "errors": errors, "can_write": access.can_write,
        "datasets": Dataset.objects.filter(organization=access.organization).annotate(n=Count("items")),
        "projects": Project.objects.filter(organization=access.organization).order_by("name"),
        "providers": PROVIDERS,
        "runs": evaluator.runs.select_related("dataset")[:50],
    }


@org_required
def evaluator_detail(request: HttpRequest, access: Access, evaluator_id: str) -> HttpResponse:
    evaluator = lookups.evaluator_or_404(access, evaluator_id)
    project = current_project(request)
    values = {"source": "dataset" if Dataset.objects.filter(organization=access.organization).exists()
              else "production", "sample_size": "", "project_id": str(project.id) if project else ""}
    context = _run_form_context(access, evaluator, values, {})
    return render(request, "evals/evaluation/detail.html", context)


@org_required
def run_estimate(request: HttpRequest, access: Access, evaluator_id: str) -> HttpResponse:
    evaluator = lookups.evaluator_or_404(access, evaluator_id)
    data = request.POST if request.method == "POST" else request.GET
    context = {"evaluator": evaluator}
    try:
        req = eval_services.parse_run_request(access.organization, data.dict())
        context["estimate"] = eval_services.estimate(access.organization, evaluator, req)
    except EvalError as exc:
        context["error"] = str(exc)
    return render(request, "evals/evaluation/detail.html#estimate", context)


@org_required
@require_POST
def run_start(request: HttpRequest, access: Access, evaluator_id: str) -> HttpResponse:
    require_write(access)
    evaluator = lookups.evaluator_or_404(access, evaluator_id)
    try:
        req = eval_services.parse_run_request(access.organization, request.POST.dict())
        run = eval_services.start_eval_run(access.organization, evaluator, req, user=request.user)
    except EvalError as exc:
        context = _run_form_context(access, evaluator, request.POST.dict(), {exc.field: exc.message})
        return render(request, "evals/evaluation/detail.html", context, status=400)
    return redirect(f"/evals/runs/{run.id}/")


def _run_context(run: EvalRun, page: int = 1) -> dict:
    summary = run.stats if run.status == EvalRun.Status.COMPLETED and run.stats else eval_services.summarize(run)
    results = run.results.all()
    offset = (page - 1) * RESULTS_PER_PAGE
    return {
        "run": run, "s": summary, "active": run.is_active,
        "histogram": histogram_svg(summary["histogram"]) if summary["n"] else None,
        "lowest": eval_services.lowest(run),  # 5 rows: their dataset items load one by one
        "results": results.select_related("dataset_item")[offset:offset + RESULTS_PER_PAGE],
        "page": page, "has_next": summary["total"] > offset + RESULTS_PER_PAGE,
        "failed": summary["failed"],
    }


@org_required
def run_detail(request: HttpRequest, access: Access, run_id: str) -> HttpResponse:
    run = lookups.run_or_404(access, run_id)
    try:
        page = max(int(request.GET.get("page", 1)), 1)
    except ValueError:
        page = 1
    context = {**_run_context(run, page), "can_write": access.can_write}
    if request.htmx:
        response = render(request, "evals/evaluation/run.html#run-body", context)
        # The poll's partial shares the page's URL: never let Back show it from the cache.
        response["Cache-Control"] = "no-store"
    else:
        response = render(request, "evals/evaluation/run.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@org_required
@require_POST
def run_retry(request: HttpRequest, access: Access, run_id: str) -> HttpResponse:
    require_write(access)
    run = lookups.run_or_404(access, run_id)
    try:
        count = eval_services.retry_failed(run)
    except EvalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Retrying {count} failed sample{'s' if count != 1 else ''}." if count
                         else "No failed samples to retry.")
    return redirect(f"/evals/runs/{run.id}/")


def trend_svg(scores: list[float]):
    """Mean scores of recent runs, oldest first, on the fixed 0..1 scale (a flat line at
    0.9 should read as good, not as "the maximum")."""
    from django.utils.html import format_html

    width, height = 120, 30
    step = width / (len(scores) - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - s * (height - 4):.1f}" for i, s in enumerate(scores))
    return format_html(
        '<svg class="stat-spark" viewBox="0 0 {} {}" preserveAspectRatio="none" role="img" '
        'aria-label="Mean score of recent runs"><line x1="0" x2="{}" y1="{}" y2="{}" stroke="currentColor" '
        'opacity="0.15" vector-effect="non-scaling-stroke"/><polyline points="{}" fill="none" stroke="currentColor" '
        'stroke-width="1.5" vector-effect="non-scaling-stroke" stroke-linejoin="round"/></svg>',
        width, height, width, height / 2, height / 2, points,
    )


def histogram_svg(counts: list[int]):
    """Scores in ten bins over 0..1, as bars with their counts."""
    from django.utils.html import format_html, format_html_join

    top = max(counts) or 1
    width, height, bar = 300, 120, 30
    bars = format_html_join("", (
        '<rect class="hist-bar" x="{}" y="{}" width="{}" height="{}" rx="2"><title>{}–{}: {} sample(s)</title></rect>'
        '<text class="hist-count" x="{}" y="{}">{}</text>'
    ), (
        (i * bar + 2, height - 18 - (c / top) * (height - 34), bar - 4, max((c / top) * (height - 34), 0.5),
         f"{i / 10:.1f}", f"{(i + 1) / 10:.1f}", c, i * bar + bar / 2, height - 22 - (c / top) * (height - 34),
         c if c else "")
        for i, c in enumerate(counts)
    ))
    return format_html(
        '<svg class="hist" viewBox="0 0 {} {}" role="img" aria-label="Score histogram">{}'
        '<text class="hist-axis" x="0" y="{}">0</text><text class="hist-axis" x="{}" y="{}">0.5</text>'
        '<text class="hist-axis" x="{}" y="{}" text-anchor="end">1</text></svg>',
        width, height, bars, height - 4, width / 2 - 6, height - 4, width, height - 4,
    )


# --- datasets -----------------------------------------------------------------------------

@org_required
def dataset_list(request: HttpRequest, access: Access) -> HttpResponse:
    errors, values = {}, {}
    if request.method == "POST":
        require_write(access)
        values = request.POST.dict()
        try:
            dataset = dataset_services.create_dataset(access.organization, name=values.get("name"),
                                                      description=values.get("description", ""),
                                                      project=current_project(request), user=request.user)
        except DatasetError as exc:
            errors[exc.field] = exc.message
        else:
            messages.success(request, f"Dataset “{dataset.name}” created.")
            return redirect(f"/datasets/{dataset.id}/")
    datasets = Dataset.objects.filter(organization=access.organization).annotate(n=Count("items"))
    return render(request, "evals/datasets/list.html",
                  {"datasets": datasets, "errors": errors, "values": values, "can_write": access.can_write},
                  status=400 if errors else 200)


def _dataset_context(access: Access, dataset: Dataset, **extra) -> dict:
    return {"dataset": dataset, "items": dataset.items.all()[:500], "count": dataset.items.count(),
            "can_write": access.can_write, "roles": importers.ROLES, "errors": {}, "values": {}, **extra}


def _item_from_form(post) -> dict:
    text = post.get("input", "").strip()
    try:
        value = json.loads(text) if text.startswith(("{", "[")) else text
    except ValueError:
        raise DatasetError("input", "looks like JSON but does not parse") from None
    metadata_text = post.get("metadata", "").strip()
    try:
        metadata = json.loads(metadata_text) if metadata_text else {}
    except ValueError:
        raise DatasetError("metadata", "must be a JSON object") from None
    data = {"input": value, "metadata": metadata}
    if post.get("expected_output", "") != "":
        data["expected_output"] = post["expected_output"]
    return data


@org_required
def dataset_detail(request: HttpRequest, access: Access, dataset_id: str) -> HttpResponse:
    dataset = lookups.dataset_or_404(access, dataset_id)
    if request.method == "POST":
        require_write(access)
        action = request.POST.get("action", "add")
        try:
            if action == "delete":
                dataset_services.delete_dataset(dataset)
                messages.success(request, f"Dataset “{dataset.name}” deleted.")
                return redirect("/datasets/")
            if action == "rename":
                dataset_services.update_dataset(dataset, name=request.POST.get("name"),
                                                description=request.POST.get("description", ""))
                messages.success(request, "Saved.")
            else:
                dataset_services.add_items(dataset, [_item_from_form(request.POST)])
                messages.success(request, "Item added.")
        except DatasetError as exc:
            context = _dataset_context(access, dataset, errors={exc.field.split(".")[-1].split("[")[0]: exc.message},
                                       values=request.POST.dict())
            return render(request, "evals/datasets/detail.html", context, status=400)
        return redirect(f"/datasets/{dataset.id}/")
    return render(request, "evals/datasets/detail.html", _dataset_context(access, dataset))


@org_required
@require_POST
def dataset_item(request: HttpRequest, access: Access, dataset_id: str, item_id: str) -> HttpResponse:
    require_write(access)
    dataset = lookups.dataset_or_404(access, dataset_id)
    item = lookups.item_or_404(access, dataset, item_id)
    if request.POST.get("action") == "delete":
        dataset_services.delete_item(item)
        messages.success(request, "Item deleted.")
        return redirect(f"/datasets/{dataset.id}/")
    try:
        dataset_services.update_item(item, _item_from_form(request.POST))
    except DatasetError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Item saved.")
    return redirect(f"/datasets/{dataset.id}/#item-{item.id}")


@org_required
@require_POST
def dataset_upload(request: HttpRequest, access: Access, dataset_id: str) -> HttpResponse:
    """Step 1 (a file): preview with the column mapping. Step 2 (upload id): import, or the bad rows."""
    require_write(access)
    dataset = lookups.dataset_or_404(access, dataset_id)
    if "file" in request.FILES:
        try:
            upload, parsed = dataset_services.stage_upload(dataset, request.FILES["file"].read(),
                                                           request.FILES["file"].name)
        except DatasetError as exc:
            return render(request, "evals/datasets/detail.html",
                          _dataset_context(access, dataset, upload_error=str(exc)), status=400)
        return render(request, "evals/datasets/detail.html",
                      _dataset_context(access, dataset, upload=upload, parsed=parsed))
    upload = lookups.upload_or_404(access, dataset, request.POST.get("upload", ""))
    mapping = None
    if upload.format == "csv":
        mapping = {k[len("role:"):]: v for k, v in request.POST.items() if k.startswith("role:")}
    try:
        parsed, _ = dataset_services.parse_upload(upload.content, fmt=upload.format, mapping=mapping)
    except DatasetError as exc:  # e.g. a mapping without an input column: show the default one again
        parsed, _ = dataset_services.parse_upload(upload.content, fmt=upload.format)
        return render(request, "evals/datasets/detail.html",
                      _dataset_context(access, dataset, upload=upload, parsed=parsed, upload_error=str(exc)),
                      status=400)
    if request.POST.get("action") == "preview":
        return render(request, "evals/datasets/detail.html",
                      _dataset_context(access, dataset, upload=upload, parsed=parsed))
    try:
        result = dataset_services.import_upload(upload, mapping=mapping,
                                                skip_invalid=request.POST.get("skip_invalid") == "on")
    except DatasetError as exc:
        return render(request, "evals/datasets/detail.html",
                      _dataset_context(access, dataset, upload=upload, parsed=parsed, upload_error=str(exc)),
                      status=400)
    skipped = f", skipped {len(result.skipped)} bad row(s)" if result.skipped else ""
    messages.success(request, f"Imported {result.imported} item(s){skipped}.")
    return redirect(f"/datasets/{dataset.id}/")


@org_required
def dataset_export(request: HttpRequest, access: Access, dataset_id: str) -> HttpResponse:
    dataset = lookups.dataset_or_404(access, dataset_id)
    response = StreamingHttpResponse(dataset_services.export_jsonl(dataset), content_type="application/x-ndjson")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in dataset.name)[:60] or "dataset"
    response["Content-Disposition"] = f'attachment; filename="{safe}.jsonl"'
    return response


@org_required
@require_POST
def add_requests(request: HttpRequest, access: Access) -> HttpResponse:
    """"Add to dataset" from the request drawer (ids) or from a filtered /requests list (its filters)."""
    from dashboard import filters as filters_mod
    from spanlens.requestlog import queries

    require_write(access)
    back = request.POST.get("next") or "/requests/"
    if not back.startswith("/") or back.startswith("//"):
        back = "/requests/"
    try:
        if request.POST.get("dataset"):
            dataset = lookups.dataset_or_404(access, request.POST["dataset"])
        else:
            dataset = dataset_services.create_dataset(access.organization, name=request.POST.get("new_name"),
                                                      project=current_project(request), user=request.user)
        ids = request.POST.getlist("request_id")
        if ids:
            rows = queries.list_requests_by_ids(organization_id=access.organization.id,
                                                request_ids=[lookups.uuid_or_404(i) for i in ids[:1000]],
                                                retention_days=access.retention_days)
        else:
            f = filters_mod.parse(request.POST, strict=False, organization_id=access.organization.id)
            rows = []
            for row in queries.iter_requests_for_export(organization_id=access.organization.id,
                                                        retention_days=access.retention_days, **f.query_kwargs()):
                rows.append(row)
                if len(rows) > dataset_services.MAX_REQUESTS_PER_ADD:
                    break
        added = dataset_services.add_requests(dataset, rows)
    except DatasetError as exc:
        text = exc.message if exc.field != "name" else f"New dataset name {exc.message}"
        if request.htmx:  # htmx swaps 2xx only: the error shows beside the button
            return HttpResponse(f'<span class="badge badge-err" data-add-error>{escape(text)}</span>')
        messages.error(request, text)
        return redirect(back)
    if request.htmx:
        return render(request, "evals/datasets/_added.html", {"dataset": dataset, "added": added})
    messages.success(request, f"Added {added} request{'s' if added != 1 else ''} to “{dataset.name}”.")
    return redirect(back)
