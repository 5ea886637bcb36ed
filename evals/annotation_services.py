"""Every write to human annotation: score configs, queues (filled from production requests or
an experiment run), claiming the next item under a lock, scoring it; and the agreement of
the queue's judge with the people."""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from evals import agreement_stats
from evals.models import (Annotation, AnnotationItem, AnnotationQueue, EvalResult, Evaluator, ExperimentResult,
                          ExperimentRun, ExperimentScore, ScoreConfig)

LOCK_MINUTES = 10
MAX_QUEUE_ITEMS = 1000
MAX_REVIEWERS = 5


class AnnotationError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _float(value, field: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AnnotationError(field, "must be a number") from None


def create_score_config(organization, *, name, kind, min_value=None, max_value=None, categories=None,
                        description="") -> ScoreConfig:
    name = str(name or "").strip()[:200]
    if not name:
        raise AnnotationError("name", "is required")
    if kind not in ScoreConfig.Kind.values:
        raise AnnotationError("kind", f"must be one of {', '.join(ScoreConfig.Kind.values)}")
    low, high, labels = _float(min_value, "min_value"), _float(max_value, "max_value"), []
    if kind == ScoreConfig.Kind.NUMERIC:
        low, high = (1.0 if low is None else low), (5.0 if high is None else high)
        if high <= low:
            raise AnnotationError("max_value", "must be above min_value")
    elif kind == ScoreConfig.Kind.CATEGORICAL:
        if isinstance(categories, str):
            categories = [c.strip() for c in categories.split(",")]
        labels = [str(c).strip()[:100] for c in categories or [] if str(c).strip()]
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise AnnotationError("categories", "give at least two distinct labels, worst first")
        low = high = None
    else:
        low = high = None
    try:
        with transaction.atomic():
            return ScoreConfig.objects.create(organization=organization, name=name, kind=kind, min_value=low,
                                              max_value=high, categories=labels, description=str(description or ""))
    except IntegrityError:
        raise AnnotationError("name", f"a score config named {name!r} already exists") from None


def _find(model, organization, ref, field: str):
    if ref in (None, ""):
        return None
    if isinstance(ref, model):
        obj = ref if ref.organization_id == organization.id else None
    else:
        try:
            obj = model.objects.filter(organization=organization, id=uuid.UUID(str(ref))).first()
        except ValueError:
            obj = model.objects.filter(organization=organization, name=str(ref)).first() \
                if hasattr(model, "name") else None
    if obj is None:
        raise AnnotationError(field, "not found in this organization")
    return obj


def create_queue(organization, *, name, score_config, source, experiment_run=None, filters=None, evaluator=None,
                 reviewers_per_item=1, limit=200, retention_days: int = 30, user=None,
                 description="") -> AnnotationQueue:
    name = str(name or "").strip()[:200]
    if not name:
        raise AnnotationError("name", "is required")
    config = _find(ScoreConfig, organization, score_config, "score_config")
    if config is None:
        raise AnnotationError("score_config", "is required")
    judge = _find(Evaluator, organization, evaluator, "evaluator")
    try:
        k = int(reviewers_per_item or 1)
        limit = int(limit or 200)
    except (TypeError, ValueError):
        raise AnnotationError("reviewers_per_item", "must be a whole number") from None
    if not 1 <= k <= MAX_REVIEWERS:
        raise AnnotationError("reviewers_per_item", f"must be from 1 to {MAX_REVIEWERS}")
    if not 1 <= limit <= MAX_QUEUE_ITEMS:
        raise AnnotationError("limit", f"must be from 1 to {MAX_QUEUE_ITEMS}")
    if source == AnnotationQueue.Source.EXPERIMENT:
        run = _find(ExperimentRun, organization, experiment_run, "experiment_run")
        if run is None:
            raise AnnotationError("experiment_run", "is required for a queue of experiment results")
        items = _experiment_items(run, judge, limit)
        filters = {}
    elif source == AnnotationQueue.Source.REQUESTS:
        run = None
        if filters is not None and not isinstance(filters, dict):
            raise AnnotationError("filters", "must be an object of /requests filters")
        items = _request_items(organization, filters or {}, judge, limit, retention_days)
    else:
        raise AnnotationError("source", "must be requests or experiment")
    if not items:
        raise AnnotationError("filters" if run is None else "experiment_run", "nothing to annotate")
    with transaction.atomic():
        queue = AnnotationQueue.objects.create(
            organization=organization, name=name, description=str(description or ""), score_config=config,
            source=source, filters=filters or {}, experiment_run=run, evaluator=judge, reviewers_per_item=k,
            created_by=user)
        for position, item in enumerate(items):
            item.organization, item.queue, item.position = organization, queue, position
        AnnotationItem.objects.bulk_create(items, batch_size=500)
    return queue


def _experiment_items(run: ExperimentRun, judge, limit: int) -> list[AnnotationItem]:
    results = list(run.results.filter(status=ExperimentResult.Status.DONE).select_related("item", "variant")
                   .order_by("item__position", "variant__position", "repetition")[:limit])
    scores = {}
    if judge is not None:
        scores = {s.result_id: s for s in ExperimentScore.objects.filter(
            result__in=results, evaluator_id=judge.id, status="scored")}
    return [AnnotationItem(experiment_result=r, request_id=r.request_id, input=r.item.input, output=r.output,
                           judge_score=scores[r.id].score if r.id in scores else None,
                           judge_passed=scores[r.id].passed if r.id in scores else None) for r in results]


def _request_items(organization, filters: dict, judge, limit: int, retention_days: int) -> list[AnnotationItem]:
    from django.http import QueryDict

    from dashboard import bodies
    from dashboard import filters as filters_mod
    from evals import experiment_replay

    query = QueryDict(mutable=True)
    query.update({k: str(v) for k, v in filters.items()})
    f = filters_mod.parse(query, strict=False, organization_id=organization.id)
    rows = experiment_replay.read_rows(organization, f.query_kwargs(), retention_days=retention_days, limit=limit)
    verdicts = {}
    if judge is not None and rows:
        for r in (EvalResult.objects.filter(organization=organization, run__evaluator=judge,
                                            status=EvalResult.Status.SCORED,
                                            request_id__in=[r["id"] for r in rows]).order_by("completed_at")):
            verdicts[str(r.request_id)] = r  # the latest verdict wins
    items = []
    for row in rows:
        conversation = bodies.conversation(row["provider"], bodies.load(row["request_body"])) or {}
        messages = [{"role": "system", "content": s} for s in conversation.get("system", [])]
        messages += [{"role": m["role"], "content": m["text"]} for m in conversation.get("messages", [])]
        verdict = verdicts.get(str(row["id"]))
        items.append(AnnotationItem(
            request_id=row["id"], input={"messages": messages},
            output=bodies.response_text(row["provider"], bodies.load(row["response_body"])),
            judge_score=verdict.score if verdict else None, judge_passed=verdict.passed if verdict else None))
    return items


# --- reviewing --------------------------------------------------------------------------------

def claim_next(queue: AnnotationQueue, user) -> AnnotationItem | None:
    """The next item this reviewer has not scored, that still needs reviewers and that nobody
    else holds; locked to them for LOCK_MINUTES. An item they already hold comes back first."""
    now = timezone.now()
    with transaction.atomic():
        held = (AnnotationItem.objects.select_for_update(skip_locked=True)
                .filter(queue=queue, locked_by=user, locked_until__gt=now).order_by("position").first())
        if held is not None:
            return held
        item = (AnnotationItem.objects.select_for_update(skip_locked=True)
                .filter(queue=queue, annotations_count__lt=queue.reviewers_per_item)
                .filter(Q(locked_by__isnull=True) | Q(locked_until__lte=now))
                .exclude(annotations__reviewer=user).order_by("position").first())
        if item is None:
            return None
        item.locked_by, item.locked_until = user, now + timedelta(minutes=LOCK_MINUTES)
        item.save(update_fields=["locked_by", "locked_until"])
        return item


def clean_value(config: ScoreConfig, value) -> tuple[float | None, str]:
    if config.kind == ScoreConfig.Kind.CATEGORICAL:
        label = str(value or "").strip()
        if label not in config.categories:
            raise AnnotationError("value", f"must be one of {', '.join(config.categories)}")
        return float(config.categories.index(label)), label
    if config.kind == ScoreConfig.Kind.BOOLEAN:
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "y"):
            return 1.0, "yes"
        if text in ("0", "false", "no", "n"):
            return 0.0, "no"
        raise AnnotationError("value", "must be yes or no")
    number = _float(value, "value")
    if number is None or not config.min_value <= number <= config.max_value:
        raise AnnotationError("value", f"must be a number from {config.min_value:g} to {config.max_value:g}")
    return number, ""


def annotate(item: AnnotationItem, user, value, comment: str = "") -> Annotation:
    """Scores the item; only the reviewer holding it (or anyone, once the lock has lapsed) can."""
    queue = item.queue
    number, label = clean_value(queue.score_config, value)
    now = timezone.now()
    with transaction.atomic():
        locked = AnnotationItem.objects.select_for_update().get(id=item.id)
        if locked.locked_by_id not in (None, user.id) and locked.locked_until and locked.locked_until > now:
            raise AnnotationError("item", "another reviewer is scoring this item")
        if locked.annotations_count >= queue.reviewers_per_item:
            raise AnnotationError("item", "this item has all the reviews it needs")
        try:
            with transaction.atomic():
                annotation = Annotation.objects.create(organization_id=item.organization_id, item=locked,
                                                       reviewer=user, value=number, label=label,
                                                       comment=str(comment or "")[:2000])
        except IntegrityError:
            raise AnnotationError("item", "you have already scored this item") from None
        AnnotationItem.objects.filter(id=item.id).update(annotations_count=F("annotations_count") + 1,
                                                         locked_by=None, locked_until=None)
    return annotation


def release(item: AnnotationItem, user) -> None:
    AnnotationItem.objects.filter(id=item.id, locked_by=user).update(locked_by=None, locked_until=None)


# --- reading ------------------------------------------------------------------------------------

def progress(queue: AnnotationQueue, user=None) -> dict:
    counts = queue.items.aggregate(total=Count("id"),
                                   done=Count("id", filter=Q(annotations_count__gte=queue.reviewers_per_item)))
    reviews = Annotation.objects.filter(item__queue=queue)
    total = counts["total"] or 0
    return {"items": total, "done": counts["done"] or 0, "reviews": reviews.count(),
            "reviews_needed": total * queue.reviewers_per_item,
            "mine": reviews.filter(reviewer=user).count() if user is not None else None,
            "percent": int(100 * (counts["done"] or 0) / total) if total else 0}


def _human(config: ScoreConfig, annotations: list[Annotation]):
    if config.kind == ScoreConfig.Kind.NUMERIC:
        mean = sum(a.value for a in annotations) / len(annotations)
        return (mean - config.min_value) / (config.max_value - config.min_value)
    labels = Counter(a.label for a in annotations).most_common()
    return labels[0][0]  # the majority; a tie goes to the label scored first


def _judge_label(config: ScoreConfig, item: AnnotationItem):
    if config.kind == ScoreConfig.Kind.BOOLEAN:
        passed = item.judge_passed if item.judge_passed is not None else item.judge_score >= 0.5
        return "yes" if passed else "no"
    # Labels are ordered worst first: a 0..1 score falls into one of len(labels) equal bands.
    labels = config.categories
    return labels[min(int(item.judge_score * len(labels)), len(labels) - 1)]


def agreement(queue: AnnotationQueue) -> dict:
    config = queue.score_config
    items = list(queue.items.filter(judge_score__isnull=False, annotations_count__gt=0)
                 .prefetch_related("annotations"))
    humans, judges = [], []
    for item in items:
        humans.append(_human(config, list(item.annotations.all())))
        judges.append(item.judge_score if config.kind == ScoreConfig.Kind.NUMERIC else _judge_label(config, item))
    n = len(items)
    out = {"n": n, "evaluator": queue.evaluator.name if queue.evaluator else None, "kind": config.kind,
           "calibrated": n >= agreement_stats.CALIBRATED_AT, "needed": agreement_stats.CALIBRATED_AT,
           "pearson": None, "spearman": None, "kappa": None, "base_rate": None}
    if not n:
        return out
    if config.kind == ScoreConfig.Kind.NUMERIC:
        out["pearson"] = agreement_stats.pearson(humans, judges)
        out["spearman"] = agreement_stats.spearman(humans, judges)
        out["base_rate"] = sum(humans) / n  # the people's mean score, 0..1
    else:
        out["kappa"] = agreement_stats.cohen_kappa(humans, judges)
        positive = "yes" if config.kind == ScoreConfig.Kind.BOOLEAN else config.categories[-1]
        out["base_rate"] = humans.count(positive) / n  # how often people gave the best label
        out["positive"] = positive
    return out
