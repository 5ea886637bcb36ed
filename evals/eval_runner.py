"""Executing one eval run: claim it, draw and snapshot its samples once, score every
sample still pending (each result written as it completes), keep a heartbeat, finish.

Safe to call again at any time: a second worker cannot claim a run whose heartbeat is
fresh, drawn samples are never redrawn, a sample with a result is never scored again,
and a verdict the judge already gave comes from the cache at no cost.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from evals import eval_services, scorers
from evals.models import DatasetItem, EvalResult, EvalRun, JudgeVerdict

log = logging.getLogger("spanlens.evals")
MAX_SNAPSHOT_CHARS = 32_000

# Set when this process is going away (Ctrl-C of `make run`, a worker's shutdown): runs stop
# taking new samples, hand themselves back as interrupted, and resume elsewhere or at start.
stopping = threading.Event()
try:
    # Runs before the interpreter joins non-daemon threads (Celery's thread pool among
    # them), so a long run does not hold the exit until its last sample.
    threading._register_atexit(stopping.set)
except (AttributeError, RuntimeError):  # not CPython's threading, or already shutting down
    pass


def _cap(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= MAX_SNAPSHOT_CHARS else text[:MAX_SNAPSHOT_CHARS]


# --- claiming --------------------------------------------------------------------------------

def claim(run_id: str) -> tuple[EvalRun, str] | None:
    """Take the run if nobody live has it; returns (run, lease token) or None."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.EVAL_STALE_AFTER_S)
    token = uuid.uuid4().hex
    claimable = Q(status__in=(EvalRun.Status.PENDING, EvalRun.Status.INTERRUPTED)) | Q(
        status=EvalRun.Status.RUNNING, heartbeat_at__lt=stale)
    updated = EvalRun.objects.filter(claimable, id=run_id).update(
        status=EvalRun.Status.RUNNING, lease_token=token, heartbeat_at=now)
    if not updated:
        return None
    run = EvalRun.objects.select_related("organization", "dataset").get(id=run_id)
    if run.started_at is None:
        EvalRun.objects.filter(id=run.id).update(started_at=now)
    return run, token


class _Stop:
    """What a judge call checks between retries: the run taken over, or the process stopping."""

    def __init__(self, lost: threading.Event):
        self.lost = lost

    def is_set(self) -> bool:
        return self.lost.is_set() or stopping.is_set()


class Heartbeat:
    """Keeps the run's heartbeat fresh from a thread; sets `lost` if another worker took it."""

    def __init__(self, run_id, token: str):
        self.run_id, self.token = run_id, token
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"eval-heartbeat-{run_id}")

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.EVAL_HEARTBEAT_S):
                self.touch()
        finally:
            connections.close_all()

    def touch(self) -> None:
        if not EvalRun.objects.filter(id=self.run_id, lease_token=self.token).update(heartbeat_at=timezone.now()):
            self.lost.set()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


# --- drawing samples ----------------------------------------------------------------------------

def prepare(run: EvalRun) -> None:
    """Draw the samples and snapshot what will be scored, once; later edits change nothing."""
    if run.source == EvalRun.Source.DATASET:
        results = _dataset_samples(run)
    else:
        results = _production_samples(run)
    with transaction.atomic():
        EvalResult.objects.bulk_create(results, ignore_conflicts=True, batch_size=500)
        EvalRun.objects.filter(id=run.id).update(prepared=True, total=run.results.count())
    run.prepared = True


def _context(item_metadata: dict, field: str) -> str:
    if not field:
        return ""
    value = (item_metadata or {}).get(field, "")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _dataset_samples(run: EvalRun) -> list[EvalResult]:
    from spanlens.requestlog import queries

    if run.dataset is None:
        raise RuntimeError("the run's dataset was deleted before the run started")
    items = list(DatasetItem.objects.filter(dataset=run.dataset).order_by("created_at", "id"))
    if len(items) > run.sample_size:
        chosen = set(random.Random(run.seed).sample(range(len(items)), run.sample_size))
        items = [item for i, item in enumerate(items) if i in chosen]
    # Items made from logged requests are scored on that request's answer unless they carry their own.
    need = [str(i.source_request_id) for i in items if i.source_request_id and not (i.metadata or {}).get("output")]
    answers = {}
    if need:
        from dashboard import bodies

        for row in queries.list_requests_by_ids(organization_id=run.organization_id, request_ids=need,
                                                retention_days=run.organization.retention_days):
            answers[str(row["id"])] = bodies.response_text(row["provider"], bodies.load(row["response_body"]))
    field = ((run.evaluator_snapshot.get("config") or {}).get("fields") or {}).get("context", "")
    results = []
    for position, item in enumerate(items):
        output = (item.metadata or {}).get("output")
        if output is None and item.source_request_id:
            output = answers.get(str(item.source_request_id))
        result = EvalResult(
            organization_id=run.organization_id, run=run, position=position, sample_key=str(item.id),
            dataset_item=item, request_id=None, input=item.input, output=_cap(output if isinstance(output, str) else ""),
            expected_output=item.expected_output, context=_cap(_context(item.metadata, field)),
        )
        if output is None:
            result.status = EvalResult.Status.ERROR
            result.error = ("no output to score: give the item an \"output\" (metadata.output), or make it from a "
                            "logged request")
            result.completed_at = timezone.now()
        results.append(result)
    return results


SAMPLE_BATCH = 100


def _production_samples(run: EvalRun) -> list[EvalResult]:
    """The drawn requests, bodies fetched a batch at a time (a sample of 1000 large bodies
    would otherwise sit in memory at once)."""
    from dashboard import bodies
    from spanlens.requestlog import queries

    retention = run.organization.retention_days
    ids = queries.list_eval_sample_ids(organization_id=run.organization_id, retention_days=retention,
                                       seed=run.seed, limit=run.sample_size,
                                       **eval_services.query_filters(run.filters))
    results = []
    for start in range(0, len(ids), SAMPLE_BATCH):
        chunk = ids[start:start + SAMPLE_BATCH]
        rows = {str(r["id"]): r for r in queries.list_requests_by_ids(
            organization_id=run.organization_id, request_ids=chunk, retention_days=retention)}
        for offset, request_id in enumerate(chunk):
            row = rows.get(str(request_id))
            if row is None:
                continue  # aged out between the draw and now
            conversation = bodies.conversation(row["provider"], bodies.load(row["request_body"])) or {}
            messages = [{"role": "system", "content": s} for s in conversation.get("system", [])]
            messages += [{"role": m["role"], "content": m["text"]} for m in conversation.get("messages", [])]
            output = bodies.response_text(row["provider"], bodies.load(row["response_body"]))
            results.append(EvalResult(
                organization_id=run.organization_id, run=run, position=start + offset,
                sample_key=str(row["id"]), request_id=row["id"], input={"messages": messages},
                output=_cap(output),
            ))
    return results


# --- scoring ----------------------------------------------------------------------------------

def cache_key(snapshot: dict, result: EvalResult) -> str:
    config = snapshot.get("config") or {}
    material = json.dumps({
        "type": snapshot.get("type"), "config": config, "input": result.input, "output": result.output,
        "expected": result.expected_output, "context": result.context,
    }, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def _finish(result_id: int, **fields) -> bool:
    """Write a verdict once: only a still-pending result takes it."""
    fields.setdefault("completed_at", timezone.now())
    return bool(EvalResult.objects.filter(id=result_id, status=EvalResult.Status.PENDING).update(**fields))


def _passed(score: float | None, threshold: float | None):
    if score is None or threshold is None:
        return None
    return score >= threshold


def score_deterministic(snapshot: dict, result: EvalResult) -> None:
    outcome = scorers.score(snapshot["type"], snapshot.get("config") or {}, result.output, result.expected_output)
    if outcome.score is None:
        _finish(result.id, status=EvalResult.Status.ERROR, error=outcome.error)
        return
    _finish(result.id, status=EvalResult.Status.SCORED, score=outcome.score, raw_score=outcome.score,
            reasoning=outcome.reasoning, passed=_passed(outcome.score, snapshot.get("pass_threshold")))


def score_with_judge(run: EvalRun, snapshot: dict, judge_client, result: EvalResult) -> None:
    key = cache_key(snapshot, result)
    threshold = snapshot.get("pass_threshold")
    hit = JudgeVerdict.objects.filter(organization_id=run.organization_id, key=key).first()
    if hit is not None:
        _finish(result.id, status=EvalResult.Status.SCORED, score=hit.score, raw_score=hit.raw_score,
                reasoning=hit.reasoning, cached=True, judge_tokens=0, judge_cost_usd=Decimal(0),
                passed=_passed(hit.score, threshold))
        return
    outcome = judge_client.judge(input=result.input, output=result.output, expected=result.expected_output,
                                 context=result.context)
    paid = {"judge_tokens": outcome.tokens, "judge_cost_usd": outcome.cost_usd,
            "judge_request_ids": outcome.request_ids, "attempts": outcome.attempts}
    if outcome.status != "scored":
        _finish(result.id, status=outcome.status, error=outcome.error[:4000], **paid)
        return
    verdict = outcome.verdict
    # The cache first: if this worker dies before the result is written, a resumed run
    # finds the verdict here instead of paying for it again.
    try:
        with transaction.atomic():
            JudgeVerdict.objects.create(organization_id=run.organization_id, key=key, raw_score=verdict.raw_score,
                                        score=verdict.score, reasoning=verdict.reasoning,
                                        judge_tokens=outcome.tokens, judge_cost_usd=outcome.cost_usd)
    except IntegrityError:
        pass  # another sample with the same material got there first
    _finish(result.id, status=EvalResult.Status.SCORED, score=verdict.score, raw_score=verdict.raw_score,
            reasoning=verdict.reasoning, passed=_passed(verdict.score, threshold), **paid)


# --- the whole run ----------------------------------------------------------------------------

def execute(run_id: str) -> str:
    """Returns what happened (for logs and tests): "not claimed" (a live worker has it),
    "completed", "failed", "lost" (taken over) or "stopped" (this process is shutting down)."""
    claimed = claim(run_id)
    if claimed is None:
        return "not claimed"
    run, token = claimed
    beat = Heartbeat(run.id, token)
    with beat:
        try:
            if not run.prepared:
                prepare(run)
            status = _score_pending(run, beat)
        except Exception as exc:  # a run must end in a state the page can show, never "running" forever
            log.exception("eval run %s failed", run.id)
            EvalRun.objects.filter(id=run.id, lease_token=token).update(
                status=EvalRun.Status.FAILED, error=f"{exc.__class__.__name__}: {exc}"[:2000],
                finished_at=timezone.now(), lease_token="")
            return "failed"
    if status == "lost":
        return "lost"
    if status == "stopped":
        release(run, token)
        return "stopped"
    finalize(run, token)
    return "completed"


def release(run: EvalRun, token: str) -> None:
    """Hand a run back mid-way: interrupted, and queued again where a broker can keep it."""
    if EvalRun.objects.filter(id=run.id, lease_token=token).update(status=EvalRun.Status.INTERRUPTED,
                                                                    lease_token=""):
        try:
            eval_services.enqueue(run.id)
        except Exception:  # no broker now: the stale-run check or the next start resumes it
            log.warning("eval run %s interrupted; it resumes when a worker is back", run.id)


def _score_pending(run: EvalRun, beat: Heartbeat) -> str:
    snapshot = run.evaluator_snapshot
    pending = list(run.results.filter(status=EvalResult.Status.PENDING).order_by("position"))
    if not pending:
        return "done"
    if snapshot["type"] != "llm_judge":
        for result in pending:
            if beat.lost.is_set():
                return "lost"
            if stopping.is_set():
                return "stopped"
            score_deterministic(snapshot, result)
        return "done"

    from evals.judge_client import Judge, NoJudgeKey, key_for

    config = snapshot["config"]
    try:
        key = key_for(run.organization_id, config["judge_provider"], snapshot.get("project_id"))
    except NoJudgeKey as exc:
        for result in pending:
            _finish(result.id, status=EvalResult.Status.ERROR, error=str(exc))
        return "done"
    stop = _Stop(beat.lost)
    judge_client = Judge(config, key, organization_id=run.organization_id, run_id=run.id, stop=stop)

    def work(result: EvalResult) -> None:
        try:
            if not stop.is_set():
                score_with_judge(run, snapshot, judge_client, result)
        except Exception as exc:  # one sample's surprise is that sample's error, not the run's
            log.exception("eval run %s: sample %s failed", run.id, result.sample_key)
            _finish(result.id, status=EvalResult.Status.ERROR, error=f"{exc.__class__.__name__}: {exc}"[:2000])
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=max(1, settings.EVAL_CONCURRENCY), thread_name_prefix="eval-judge") as pool:
        list(pool.map(work, pending))
    if beat.lost.is_set():
        return "lost"
    return "stopped" if stopping.is_set() else "done"


def finalize(run: EvalRun, token: str) -> None:
    run.refresh_from_db()
    summary = eval_services.summarize(run)
    if summary["done"] < summary["total"]:
        return  # someone else still has work here
    all_failed = summary["total"] > 0 and summary["scored"] == 0
    first_error = run.results.exclude(error="").values_list("error", flat=True).first() or ""
    EvalRun.objects.filter(id=run.id, lease_token=token).update(
        status=EvalRun.Status.FAILED if all_failed else EvalRun.Status.COMPLETED,
        avg_score=summary["mean"], stats=summary, judge_tokens=summary["judge_tokens"],
        judge_cost_usd=Decimal(str(summary["judge_cost_usd"])), finished_at=timezone.now(), lease_token="",
        error=f"every sample failed; the first: {first_error}"[:2000] if all_failed else "",
    )
