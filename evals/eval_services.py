"""Every write to evaluators and eval runs: create / edit evaluators, estimate and start a
run, retry its failed samples, resume runs whose worker went away."""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from evals import eval_stats, judge, scorers
from evals.models import Dataset, EvalResult, EvalRun, Evaluator

MAX_SAMPLE_SIZE = 1000
# A judge prompt's own text (instructions, criterion, tags) and a verdict's length, in tokens.
JUDGE_OVERHEAD_TOKENS = 350
JUDGE_REPLY_TOKENS = 120
PRODUCTION_FILTERS = ("project_id", "provider", "model", "prompt_version_id", "user_id", "since", "until")


class EvalError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- evaluators ---------------------------------------------------------------------------

def clean_evaluator(kind: str, config: dict, pass_threshold) -> tuple[str, dict, float | None]:
    if not isinstance(config, dict):
        raise EvalError("config", "must be an object")
    try:
        if kind == Evaluator.Type.LLM_JUDGE:
            config = judge.validate_config(config)
        else:
            config = scorers.validate_config(kind, config)
    except (judge.JudgeConfigError, scorers.ConfigError) as exc:
        raise EvalError(exc.field, str(exc).split(": ", 1)[1]) from None
    if pass_threshold in ("", None):
        threshold = None
    else:
        try:
            threshold = float(pass_threshold)
        except (TypeError, ValueError):
            raise EvalError("pass_threshold", "must be a number from 0 to 1") from None
        if not 0.0 <= threshold <= 1.0:
            raise EvalError("pass_threshold", "must be from 0 to 1 (scores are normalised to 0..1)")
    return kind, config, threshold


def create_evaluator(organization, *, name, type, config, pass_threshold=None, project=None, user=None) -> Evaluator:
    name = str(name or "").strip()
    if not name:
        raise EvalError("name", "is required")
    if type not in Evaluator.Type.values:
        raise EvalError("type", f"must be one of {', '.join(Evaluator.Type.values)}")
    kind, config, threshold = clean_evaluator(type, config, pass_threshold)
    try:
        with transaction.atomic():
            return Evaluator.objects.create(organization=organization, name=name[:200], type=kind, config=config,
                                            pass_threshold=threshold, project=project, created_by=user)
    except IntegrityError:
        raise EvalError("name", f"an evaluator named {name!r} already exists") from None


def update_evaluator(evaluator: Evaluator, *, name=None, config=None, pass_threshold="keep", project="keep"
                     ) -> Evaluator:
    """Runs keep the evaluator as it was when they started, so an edit changes future runs only."""
    if name is not None:
        if not str(name).strip():
            raise EvalError("name", "is required")
        evaluator.name = str(name).strip()[:200]
    threshold = evaluator.pass_threshold if pass_threshold == "keep" else pass_threshold
    _, evaluator.config, evaluator.pass_threshold = clean_evaluator(
        evaluator.type, evaluator.config if config is None else config, threshold)
    if project != "keep":
        evaluator.project = project
    try:
        with transaction.atomic():
            evaluator.save()
    except IntegrityError:
        raise EvalError("name", f"an evaluator named {evaluator.name!r} already exists") from None
    return evaluator


def delete_evaluator(evaluator: Evaluator) -> None:
    evaluator.delete()


def snapshot(evaluator: Evaluator) -> dict:
    return {"id": str(evaluator.id), "name": evaluator.name, "type": evaluator.type, "config": evaluator.config,
            "pass_threshold": evaluator.pass_threshold,
            "project_id": str(evaluator.project_id) if evaluator.project_id else None}


# --- run requests -------------------------------------------------------------------------

@dataclass
class RunRequest:
    source: str
    dataset: Dataset | None
    filters: dict
    sample_size: int
    seed: int


def parse_run_request(organization, data: dict) -> RunRequest:
    """The run form / API body, checked; errors name the field."""
    source = str(data.get("source") or ("dataset" if data.get("dataset") else "production"))
    if source not in EvalRun.Source.values:
        raise EvalError("source", "must be production or dataset")
    dataset = None
    if source == "dataset":
        dataset = find_dataset(organization, data.get("dataset") or data.get("dataset_id"))
    filters = parse_filters(organization, data.get("filters") if isinstance(data.get("filters"), dict) else data)
    raw_size = data.get("sample_size")
    if raw_size in (None, ""):
        size = dataset.items.count() if dataset else 50
        size = min(max(size, 1), MAX_SAMPLE_SIZE)
    else:
        try:
            size = int(raw_size)
        except (TypeError, ValueError):
            raise EvalError("sample_size", "must be a whole number from 1 to 1000") from None
    if not 1 <= size <= MAX_SAMPLE_SIZE:
        raise EvalError("sample_size", "must be from 1 to 1000")
    raw_seed = data.get("seed")
    if raw_seed in (None, ""):
        seed = random.SystemRandom().randrange(2 ** 62)
    else:
        try:
            seed = int(raw_seed)
        except (TypeError, ValueError):
            raise EvalError("seed", "must be a whole number") from None
        if not 0 <= seed < 2 ** 63:
            raise EvalError("seed", "must be from 0 to 2^63-1")
    return RunRequest(source, dataset, filters if source == "production" else {}, size, seed)


def find_dataset(organization, ref) -> Dataset:
    if not ref:
        raise EvalError("dataset", "is required for a dataset run")
    dataset = None
    try:
        dataset = Dataset.objects.filter(organization=organization, id=uuid.UUID(str(ref))).first()
    except ValueError:
        pass
    dataset = dataset or Dataset.objects.filter(organization=organization, name=str(ref)).first()
    if dataset is None:
        raise EvalError("dataset", "no such dataset in this organization")
    return dataset


def find_evaluator(organization, ref) -> Evaluator:
    if not ref:
        raise EvalError("evaluator", "is required")
    evaluator = None
    try:
        evaluator = Evaluator.objects.filter(organization=organization, id=uuid.UUID(str(ref))).first()
    except ValueError:
        pass
    evaluator = evaluator or Evaluator.objects.filter(organization=organization, name=str(ref)).first()
    if evaluator is None:
        raise EvalError("evaluator", "no such evaluator in this organization")
    return evaluator


def _date(value, field: str, end: bool = False):
    if value in (None, ""):
        return None
    from django.utils.dateparse import parse_date, parse_datetime

    text = str(value)
    parsed = parse_datetime(text)
    if parsed is None:
        day = parse_date(text)
        if day is None:
            raise EvalError(field, "must be a date (YYYY-MM-DD) or an ISO date-time")
        parsed = datetime.combine(day, datetime.max.time() if end else datetime.min.time())
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.utc)
    return parsed


def parse_filters(organization, data: dict) -> dict:
    """Production filters as stored on the run (JSON: ids and ISO dates as text)."""
    from spanlens.core.models import Project

    filters = {}
    aliases = {"project_id": ("project_id", "project"), "provider": ("provider",), "model": ("model",),
               "prompt_version_id": ("prompt_version_id", "prompt_version"), "user_id": ("user_id", "user"),
               "since": ("since", "from"), "until": ("until", "to")}
    for name, keys in aliases.items():
        value = next((data.get(k) for k in keys if data.get(k) not in (None, "")), None)
        if value is None:
            continue
        if name in ("project_id", "prompt_version_id"):
            try:
                value = str(uuid.UUID(str(value)))
            except ValueError:
                raise EvalError(name, "must be a UUID") from None
            if name == "project_id" and not Project.objects.filter(organization=organization, id=value).exists():
                raise EvalError("project_id", "is not a project of this organization")
        elif name in ("since", "until"):
            value = _date(value, name, end=name == "until").isoformat()
        elif name == "provider" and value not in judge.PROVIDERS:
            raise EvalError("provider", f"must be one of {', '.join(judge.PROVIDERS)}")
        filters[name] = str(value)
    return filters


def query_filters(filters: dict) -> dict:
    """Stored filters as keyword arguments of the request-log queries."""
    from django.utils.dateparse import parse_datetime

    kwargs = {k: v for k, v in filters.items() if k in PRODUCTION_FILTERS}
    for name in ("since", "until"):
        if name in kwargs:
            kwargs[name] = parse_datetime(kwargs[name])
    return kwargs


# --- estimate and start ------------------------------------------------------------------------

@dataclass
class Estimate:
    samples: int
    available: int | None
    prompt_tokens_per_sample: int
    completion_tokens_per_sample: int
    usd: Decimal | None  # None: the judge model has no price
    judge: bool

    def as_dict(self) -> dict:
        return {"samples": self.samples, "available": self.available,
                "prompt_tokens_per_sample": self.prompt_tokens_per_sample,
                "completion_tokens_per_sample": self.completion_tokens_per_sample,
                "usd": float(self.usd) if self.usd is not None else None, "judge": self.judge}


def estimate(organization, evaluator: Evaluator, req: RunRequest) -> Estimate:
    """Before start: sample count x typical tokens x the judge's price (deterministic ones cost 0)."""
    from spanlens.core.pricing import compute_cost
    from spanlens.requestlog import queries

    if req.source == "dataset":
        available = req.dataset.items.count()
        chars = 0
        for item in req.dataset.items.all()[:200]:
            chars += len(judge.render_input(item.input)) + len(item.expected_output or "")
            chars += len(str((item.metadata or {}).get("output", "")))
        seen = min(available, 200)
        typical = int(chars / max(seen, 1) / 4)
    else:
        counts = queries.count_eval_sample_requests(organization_id=organization.id,
                                                    retention_days=organization.retention_days,
                                                    **query_filters(req.filters))
        available = counts["count"]
        typical = int(counts["avg_prompt_tokens"] + counts["avg_completion_tokens"])
    samples = min(req.sample_size, available) if available is not None else req.sample_size
    if not evaluator.is_judge:
        return Estimate(samples, available, 0, 0, Decimal(0), False)
    prompt = JUDGE_OVERHEAD_TOKENS + typical
    config = evaluator.config
    per = compute_cost(config["judge_provider"], config["judge_model"], prompt_tokens=prompt,
                       completion_tokens=JUDGE_REPLY_TOKENS)
    usd = (per * samples).quantize(Decimal("0.00000001")) if per is not None else None
    return Estimate(samples, available, prompt, JUDGE_REPLY_TOKENS, usd, True)


def start_eval_run(organization, evaluator: Evaluator, req: RunRequest, *, user=None) -> EvalRun:
    if evaluator.is_judge:
        from evals.judge_client import NoJudgeKey, key_for

        try:
            key_for(organization.id, evaluator.config["judge_provider"], evaluator.project_id)
        except NoJudgeKey as exc:
            raise EvalError("evaluator", str(exc)) from None
    guess = estimate(organization, evaluator, req)
    if guess.samples == 0:
        what = "this dataset has no items" if req.source == "dataset" else "no logged requests match these filters"
        raise EvalError("dataset" if req.source == "dataset" else "filters", what)
    with transaction.atomic():
        run = EvalRun.objects.create(
            organization=organization, evaluator=evaluator, evaluator_snapshot=snapshot(evaluator),
            source=req.source, dataset=req.dataset, filters=req.filters, sample_size=req.sample_size,
            seed=req.seed, estimate_usd=guess.usd, created_by=user,
        )
        transaction.on_commit(lambda: enqueue(run.id))
    return run


def enqueue(run_id) -> None:
    # Through the configured app: a web process that never imported it would otherwise
    # publish with Celery's defaults (a broker on localhost that is not ours).
    from spanlens.celery_app import app

    app.send_task("evals.tasks.run_eval", args=[str(run_id)])


def retry_failed(run: EvalRun) -> int:
    """Failed samples (errors and unreadable verdicts) go back to pending; the rest stay."""
    if run.status in (EvalRun.Status.PENDING, EvalRun.Status.RUNNING):
        raise EvalError("run", "is still running; retry its failed samples once it has finished")
    with transaction.atomic():
        count = run.results.filter(status__in=EvalResult.FAILED).update(
            status=EvalResult.Status.PENDING, score=None, raw_score=None, passed=None, reasoning="", error="",
            completed_at=None)
        if count:
            EvalRun.objects.filter(id=run.id).update(status=EvalRun.Status.PENDING, finished_at=None, error="")
            transaction.on_commit(lambda: enqueue(run.id))
    return count


def resume_stale_runs(stale_after_s: float | None = None) -> list[str]:
    """Runs whose worker stopped sending heartbeats: marked interrupted and queued again.
    A resumed run skips every sample that already has a result."""
    stale_after_s = settings.EVAL_STALE_AFTER_S if stale_after_s is None else stale_after_s
    cutoff = timezone.now() - timedelta(seconds=stale_after_s)
    stale = EvalRun.objects.filter(
        Q(status__in=EvalRun.ACTIVE, heartbeat_at__lt=cutoff)
        | Q(status__in=EvalRun.ACTIVE, heartbeat_at__isnull=True, created_at__lt=cutoff)
    )
    ids = []
    for run in stale:
        # The fresh timestamp spaces out the next check: a run still queued behind others
        # is not queued again every minute.
        updated = EvalRun.objects.filter(id=run.id, status=run.status, heartbeat_at=run.heartbeat_at).update(
            status=EvalRun.Status.INTERRUPTED, resumes=run.resumes + 1, heartbeat_at=timezone.now())
        if updated:
            ids.append(str(run.id))
            enqueue(run.id)
    return ids


# --- reading a run ------------------------------------------------------------------------

def progress(run: EvalRun) -> dict:
    counts = dict(run.results.values_list("status").annotate(n=Count("id")))
    total = run.total or sum(counts.values())
    done = total - counts.get(EvalResult.Status.PENDING, 0)
    return {
        "total": total,
        "done": done,
        "scored": counts.get(EvalResult.Status.SCORED, 0),
        "failed": counts.get(EvalResult.Status.ERROR, 0) + counts.get(EvalResult.Status.PARSE_ERROR, 0),
        "parse_errors": counts.get(EvalResult.Status.PARSE_ERROR, 0),
        "percent": int(100 * done / total) if total else 0,
    }


def summarize(run: EvalRun) -> dict:
    """What the results page and the API show; stored on the run when it completes."""
    threshold = (run.evaluator_snapshot or {}).get("pass_threshold")
    scores = list(run.results.filter(status=EvalResult.Status.SCORED).values_list("score", flat=True))
    summary = eval_stats.summarize([float(s) for s in scores], threshold).as_dict()
    totals = run.results.aggregate(tokens=Sum("judge_tokens"), cost=Sum("judge_cost_usd"),
                                   cached=Count("id", filter=Q(cached=True)))
    summary.update(progress(run))
    summary["judge_tokens"] = int(totals["tokens"] or 0)
    summary["judge_cost_usd"] = float(totals["cost"] or 0)
    summary["cached"] = int(totals["cached"] or 0)
    return summary


def lowest(run: EvalRun, n: int = 5) -> list[EvalResult]:
    return list(run.results.filter(status=EvalResult.Status.SCORED).order_by("score", "position")[:n])
