"""Pages: experiments (/experiments, with the form to start one) and one experiment's run
(/experiments/<id>: live progress, the summary per variant, the paired verdict against the
baseline, the score across runs, the outputs side by side)."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from evals import eval_services, experiment_results, experiment_services
from evals.experiment_lookups import experiment_or_404
from evals.experiment_services import ExperimentError
from evals.models import Dataset, Evaluator, Experiment, ExperimentRun, PromptVersion
from evals.prompt_playground import PROVIDERS
from spanlens.core.access import Access, org_required, require_write

VARIANT_ROWS = 3
SERIES_COLOURS = ("#64748b", "#2563eb", "#16a34a", "#d97706", "#db2777", "#7c3aed")


def _form_context(access: Access, values: dict, errors: dict) -> dict:
    versions = (PromptVersion.objects.filter(organization=access.organization, archived_at__isnull=True)
                .select_related("prompt").order_by("prompt__name", "-version"))
    chosen = values.get("variants") or []
    return {
        "datasets": Dataset.objects.filter(organization=access.organization).order_by("name"),
        "evaluators": Evaluator.objects.filter(organization=access.organization).order_by("name"),
        "versions": [(f"{v.prompt.name}@{v.version}", f"{v.prompt.name} v{v.version}") for v in versions],
        "providers": PROVIDERS, "values": values, "errors": errors,
        "variant_rows": [{"i": i, **(chosen[i] if i < len(chosen) else {})} for i in range(VARIANT_ROWS)],
    }


def _variants_from(post) -> list[dict]:
    rows = []
    for i in range(VARIANT_ROWS):
        row = {k: post.get(f"variant-{i}-{k}", "").strip() for k in ("name", "prompt_version", "provider", "model",
                                                                    "temperature")}
        if row["prompt_version"] or row["model"]:
            rows.append(row)
    return rows


@org_required
def experiment_list(request: HttpRequest, access: Access) -> HttpResponse:
    values, errors = {"repetitions": "1", "baseline": "0"}, {}
    if request.method == "POST":
        require_write(access)
        values = {"name": request.POST.get("name", ""), "dataset": request.POST.get("dataset", ""),
                  "repetitions": request.POST.get("repetitions", "1"), "baseline": request.POST.get("baseline", "0"),
                  "evaluators": request.POST.getlist("evaluators"), "variants": _variants_from(request.POST)}
        try:
            experiment = experiment_services.create_experiment(
                access.organization, name=values["name"], dataset=values["dataset"], variants=values["variants"],
                evaluators=values["evaluators"], repetitions=values["repetitions"], baseline=values["baseline"],
                user=request.user)
            experiment_services.start_run(experiment, user=request.user)
        except (ExperimentError, eval_services.EvalError) as exc:
            errors[exc.field] = exc.message
        else:
            return redirect(f"/experiments/{experiment.id}/")
    rows = []
    for e in Experiment.objects.filter(organization=access.organization).prefetch_related("variants"):
        rows.append({"e": e, "latest": e.runs.first(), "variants": list(e.variants.all())})
    context = {"rows": rows, "can_write": access.can_write, **_form_context(access, values, errors)}
    return render(request, "evals/experiments/list.html", context, status=400 if errors else 200)


def history_svg(points: list[dict], variants) -> str:
    """Each variant's mean score per run, on the fixed 0..1 scale."""
    if len(points) < 2:
        return ""
    width, height, pad = 560, 160, 28
    step = (width - 2 * pad) / (len(points) - 1)
    y = (lambda s: height - pad - s * (height - 2 * pad))
    lines = []
    for v in variants:
        coords = [(pad + i * step, y(p["means"].get(str(v.position), p["means"].get(v.position))))
                  for i, p in enumerate(points)
                  if p["means"].get(str(v.position), p["means"].get(v.position)) is not None]
        if coords:
            colour = SERIES_COLOURS[v.position % len(SERIES_COLOURS)]
            lines.append((" ".join(f"{x:.1f},{yy:.1f}" for x, yy in coords), colour, v.name))
    grid = format_html_join("", '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="currentColor" opacity="0.12"/>'
                            '<text x="4" y="{}" font-size="10" fill="currentColor" opacity="0.6">{}</text>',
                            ((pad, width - pad, y(s), y(s), y(s) + 3, f"{s:.1f}") for s in (0, 0.5, 1)))
    labels = format_html_join("", '<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="currentColor" '
                              'opacity="0.6">run {}</text>',
                              ((pad + i * step, height - 8, p["number"]) for i, p in enumerate(points)))
    series = format_html_join("", '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"><title>{}</title>'
                              '</polyline>', lines)
    return format_html('<svg viewBox="0 0 {} {}" width="100%" height="{}" role="img" aria-label="Mean score per '
                       'variant across runs" id="history-chart">{}{}{}</svg>', width, height, height, grid, labels,
                       series)


@org_required
def experiment_detail(request: HttpRequest, access: Access, experiment_id: str) -> HttpResponse:
    experiment = experiment_or_404(access, experiment_id)
    runs = list(experiment.runs.all())
    run = next((r for r in runs if str(r.id) == request.GET.get("run")), runs[0] if runs else None)
    variants = list(experiment.variants.select_related("prompt_version__prompt"))
    summary = {}
    if run is not None:
        summary = run.stats if run.stats and not run.is_active else (
            experiment_results.summarize(run) if run.prepared else {"variants": [], "evaluators": [], "cost_usd": 0,
                                                                    **experiment_results.progress(run)})
    context = {
        "experiment": experiment, "run": run, "runs": runs, "variants": variants, "s": summary,
        "active": run is not None and (run.is_active or run.status == ExperimentRun.Status.AWAITING),
        "table": experiment_results.table(run, limit=100) if run is not None and run.prepared else [],
        "evaluators": {e["id"]: e["name"] for e in (run.evaluator_snapshots if run else [])},
        "chart": history_svg(experiment_results.history(experiment), variants),
        "colours": dict(enumerate(SERIES_COLOURS)), "can_write": access.can_write,
    }
    if request.htmx:
        response = render(request, "evals/experiments/detail.html#run-body", context)
        response["Cache-Control"] = "no-store"
    else:
        response = render(request, "evals/experiments/detail.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@org_required
@require_POST
def experiment_rerun(request: HttpRequest, access: Access, experiment_id: str) -> HttpResponse:
    require_write(access)
    experiment = experiment_or_404(access, experiment_id)
    if experiment.kind == Experiment.Kind.EXTERNAL:
        messages.error(request, "Runs of your own code start from the SDK.")
        return redirect(f"/experiments/{experiment.id}/")
    run = experiment_services.start_run(experiment, user=request.user)
    messages.success(request, f"Run {run.number} started on the same snapshot.")
    return redirect(f"/experiments/{experiment.id}/?run={run.id}")


@org_required
def replay(request: HttpRequest, access: Access) -> HttpResponse:
    """"Replay these on…" from a filtered /requests list: the form, then the experiment."""
    from dashboard import filters as filters_mod
    from evals import experiment_replay

    source = request.POST if request.method == "POST" else request.GET
    f = filters_mod.parse(source, strict=False, organization_id=access.organization.id)
    kwargs = f.query_kwargs()
    rows = experiment_replay.read_rows(access.organization, kwargs, retention_days=access.retention_days)
    errors, values = {}, {"provider": "", "model": "", "prompt_version": "", "evaluators": []}
    if request.method == "GET":
        # Links from elsewhere (a saving on /savings) may name the target to fill in.
        values.update({k: request.GET.get(f"target_{k}", "").strip() for k in ("provider", "model", "name")})
    if request.method == "POST":
        require_write(access)
        # target_*: the request filters already use provider, model and promptVersionId.
        values = {k: request.POST.get(f"target_{k}", "").strip() for k in ("provider", "model", "prompt_version",
                                                                           "name", "temperature")}
        values["evaluators"] = request.POST.getlist("evaluators")
        candidate = {k: values[k] for k in ("provider", "model", "prompt_version", "temperature") if values[k]}
        try:
            experiment = experiment_replay.create_replay(
                access.organization, rows, candidate=candidate, evaluators=values["evaluators"], name=values["name"],
                filters=f.params(), user=request.user,
                monthly=experiment_replay.monthly_requests(access.organization, kwargs,
                                                           retention_days=access.retention_days))
            experiment_services.start_run(experiment, user=request.user)
        except (ExperimentError, eval_services.EvalError) as exc:
            errors[exc.field] = exc.message
        else:
            return redirect(f"/experiments/{experiment.id}/")
    models = sorted({(r["provider"], r["model"]) for r in rows})
    context = {"f": f, "qs": f.querystring(), "count": len(rows), "models": models, "values": values,
               "errors": errors, "limit": experiment_replay.MAX_REPLAY,
               "cost": sum(float(r["cost_usd"] or 0) for r in rows), **_form_context(access, values, errors)}
    return render(request, "evals/experiments/replay.html", context, status=400 if errors else 200)
