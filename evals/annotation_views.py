"""Pages: annotation queues (/annotation, with the forms for score configs and queues) and the
scoring view (/annotation/<queue>: the item you hold, keyboard shortcuts, progress, and how
far the judge agrees with the people)."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from evals import annotation_services as ann
from evals.annotation_lookups import item_or_404, queue_or_404
from evals.models import AnnotationQueue, Evaluator, ExperimentRun, ScoreConfig
from spanlens.core.access import Access, org_required, require_write


def choices(config: ScoreConfig) -> list[dict]:
    """The buttons of the scoring view, each with its key."""
    if config.kind == ScoreConfig.Kind.BOOLEAN:
        return [{"value": "yes", "label": "Yes", "key": "y"}, {"value": "no", "label": "No", "key": "n"}]
    if config.kind == ScoreConfig.Kind.CATEGORICAL:
        return [{"value": c, "label": c, "key": str(i + 1) if i < 9 else ""} for i, c in enumerate(config.categories)]
    low, high = config.min_value, config.max_value
    if float(low).is_integer() and float(high).is_integer() and high - low <= 9:
        return [{"value": f"{v:g}", "label": f"{v:g}", "key": f"{v:g}" if 0 <= v <= 9 else ""}
                for v in range(int(low), int(high) + 1)]
    return []  # a wide or fractional range: a number field instead


@org_required
def queue_list(request: HttpRequest, access: Access) -> HttpResponse:
    errors: dict = {}
    if request.method == "POST":
        require_write(access)
        form = request.POST
        try:
            if form.get("form") == "config":
                config = ann.create_score_config(access.organization, name=form.get("name"), kind=form.get("kind"),
                                                 min_value=form.get("min_value"), max_value=form.get("max_value"),
                                                 categories=form.get("categories"))
                messages.success(request, f"Score config “{config.name}” created.")
                return redirect("/annotation/")
            source = form.get("source")
            queue = ann.create_queue(
                access.organization, name=form.get("name"), score_config=form.get("score_config"), source=source,
                experiment_run=form.get("experiment_run") if source == "experiment" else None,
                filters=_filters(form.get("filters", "")) if source == "requests" else None,
                evaluator=form.get("evaluator") or None, reviewers_per_item=form.get("reviewers_per_item") or 1,
                limit=form.get("limit") or 200, retention_days=access.retention_days, user=request.user)
            return redirect(f"/annotation/{queue.id}/")
        except ann.AnnotationError as exc:
            errors[exc.field] = exc.message
    queues = [{"q": q, "progress": ann.progress(q, request.user), "agreement": ann.agreement(q)}
              for q in AnnotationQueue.objects.filter(organization=access.organization).select_related(
                  "score_config", "evaluator")]
    runs = (ExperimentRun.objects.filter(organization=access.organization, status=ExperimentRun.Status.COMPLETED)
            .select_related("experiment")[:50])
    context = {"queues": queues, "errors": errors, "can_write": access.can_write, "runs": runs,
               "configs": ScoreConfig.objects.filter(organization=access.organization),
               "evaluators": Evaluator.objects.filter(organization=access.organization),
               "kinds": ScoreConfig.Kind.choices, "values": request.POST if request.method == "POST" else {},
               "chosen_run": request.POST.get("experiment_run") if request.method == "POST" else request.GET.get("run")}
    return render(request, "evals/annotation/list.html", context, status=400 if errors else 200)


def _filters(text: str) -> dict:
    """`provider=openai&model=gpt-4o`, as copied from a /requests URL."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(text.strip().lstrip("?").split("?", 1)[-1]))


@org_required
def queue_page(request: HttpRequest, access: Access, queue_id: str) -> HttpResponse:
    queue = queue_or_404(access, queue_id)
    if request.method == "POST":
        require_write(access)
        item = item_or_404(access, queue, request.POST.get("item"))
        try:
            ann.annotate(item, request.user, request.POST.get("value"), request.POST.get("comment", ""))
        except ann.AnnotationError as exc:
            messages.error(request, exc.message)
        return redirect(f"/annotation/{queue.id}/")
    item = ann.claim_next(queue, request.user) if access.can_write else None
    context = {"queue": queue, "item": item, "choices": choices(queue.score_config),
               "progress": ann.progress(queue, request.user), "agreement": ann.agreement(queue),
               "can_write": access.can_write}
    return render(request, "evals/annotation/queue.html", context)
