"""Executing one experiment run: claim it, lay out one result per (item, variant,
repetition) once, generate every pending one through the organization's provider key
(each written the moment the provider answers), score them with the run's evaluators,
keep a heartbeat, finish with the summary.

Safe to call again at any time, with the eval runs' guarantees: a live worker's run is not
claimed, a generation with a result is never paid for again, a judge verdict already
given comes from the cache, and a run handed back mid-way resumes where it stopped.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import httpx
import orjson
from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from evals import eval_runner, experiment_render, scorers
from evals.judge_client import RETRYABLE, TIMEOUT, JudgeLog, _wait_s
from evals.models import ExperimentResult, ExperimentRun, ExperimentScore, JudgeVerdict
from spanlens.requestlog.ids import new_request_id

log = logging.getLogger("spanlens.evals")
# Generations are logged as requests of this origin: their cost counts in the totals, and
# production eval samples (origin '') never include them.
ORIGIN_EXPERIMENT = "experiment"
ANTHROPIC_VERSION = "2023-06-01"


def claim(run_id: str) -> tuple[ExperimentRun, str] | None:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.EVAL_STALE_AFTER_S)
    token = uuid.uuid4().hex
    claimable = Q(status__in=(ExperimentRun.Status.PENDING, ExperimentRun.Status.INTERRUPTED)) | Q(
        status=ExperimentRun.Status.RUNNING, heartbeat_at__lt=stale)
    if not ExperimentRun.objects.filter(claimable, id=run_id).update(
            status=ExperimentRun.Status.RUNNING, lease_token=token, heartbeat_at=now):
        return None
    run = ExperimentRun.objects.select_related("experiment", "organization").get(id=run_id)
    if run.started_at is None:
        ExperimentRun.objects.filter(id=run.id).update(started_at=now)
    return run, token


class Heartbeat(eval_runner.Heartbeat):
    def touch(self) -> None:
        if not ExperimentRun.objects.filter(id=self.run_id, lease_token=self.token).update(
                heartbeat_at=timezone.now()):
            self.lost.set()


def prepare(run: ExperimentRun, variants=None) -> None:
    experiment = run.experiment
    items = list(experiment.items.order_by("position"))
    variants = variants if variants is not None else list(experiment.variants.order_by("position"))
    results = [
        ExperimentResult(organization_id=run.organization_id, run=run, item=item, variant=variant, repetition=rep)
        for item in items for variant in variants
        for rep in range(1, (1 if variant.recorded else experiment.repetitions) + 1)
    ]
    with transaction.atomic():
        ExperimentResult.objects.bulk_create(results, ignore_conflicts=True, batch_size=500)
        ExperimentRun.objects.filter(id=run.id).update(prepared=True, total=run.results.count())
    run.prepared = True


# --- generating -------------------------------------------------------------------------

def _finish(result_id: int, **fields) -> bool:
    fields.setdefault("completed_at", timezone.now())
    return bool(ExperimentResult.objects.filter(id=result_id, status=ExperimentResult.Status.PENDING)
                .update(**fields))


def _recorded(result: ExperimentResult) -> None:
    """Replay's baseline: the original request's answer, latency and cost, nothing called."""
    meta = result.item.metadata or {}
    output = meta.get("output")
    if not isinstance(output, str):
        _finish(result.id, status=ExperimentResult.Status.ERROR, error="the original request has no answer")
        return
    cost = meta.get("cost_usd")
    _finish(result.id, status=ExperimentResult.Status.DONE, output=output, latency_ms=meta.get("latency_ms"),
            prompt_tokens=meta.get("prompt_tokens") or 0, completion_tokens=meta.get("completion_tokens") or 0,
            cost_usd=Decimal(str(cost)) if cost is not None else None,
            request_id=result.item.source_request_id)


class Generator:
    """Calls the provider for one run; generate() is called from several threads."""

    def __init__(self, run: ExperimentRun, stop):
        self.run = run
        self.stop = stop
        self._keys: dict[str, object] = {}
        self._lock = threading.Lock()

    def key(self, provider: str):
        from evals.judge_client import key_for

        with self._lock:
            if provider not in self._keys:
                self._keys[provider] = key_for(self.run.organization_id, provider, self.run.experiment.project_id)
            return self._keys[provider]

    def generate(self, result: ExperimentResult) -> None:
        from evals.judge_client import NoJudgeKey

        try:
            call = experiment_render.build(result.variant, result.item.input)
        except experiment_render.RenderError as exc:
            _finish(result.id, status=ExperimentResult.Status.ERROR, error=str(exc))
            return
        try:
            key = self.key(call.provider)
        except NoJudgeKey as exc:
            _finish(result.id, status=ExperimentResult.Status.ERROR,
                    error=str(exc).replace(" for the judge", ""))
            return
        self._call(result, call, key)

    def _call(self, result: ExperimentResult, call, key) -> None:
        from proxy.auth import ResolvedProviderKey
        from proxy.providers import ADAPTERS
        from spanlens.core import crypto
        from spanlens.core.services import provider_key_headers

        adapter = ADAPTERS[call.provider]
        resolved = ResolvedProviderKey(
            id=str(key.id), secret=crypto.decrypt(key.encrypted_secret), azure_endpoint=key.azure_endpoint,
            azure_deployment=key.azure_deployment, azure_api_version=key.azure_api_version,
            base_url=key.base_url, price_free=key.price_free)
        url = adapter.upstream_url(settings.UPSTREAM_BASE_URLS.get(call.provider), call.endpoint, b"", resolved)
        headers = dict(provider_key_headers(key))
        headers.update({k.decode(): v.decode() for k, v in adapter.auth_headers(resolved)})
        headers["content-type"] = "application/json"
        if call.provider == "anthropic":
            headers["anthropic-version"] = ANTHROPIC_VERSION
        body = orjson.dumps(call.body)
        attempts, failure = 0, ""
        for attempt in range(settings.EVAL_MAX_RETRIES + 1):
            attempts += 1
            started_at, started = time.time(), time.perf_counter()
            response = None
            try:
                with httpx.Client(timeout=TIMEOUT) as client:
                    response = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                failure = f"could not reach {call.provider}: {exc.__class__.__name__}: {exc}"
            latency = int((time.perf_counter() - started) * 1000)
            if response is not None:
                row = self._log(result, call, key, body, response, started_at, latency)
                if response.status_code < 300:
                    # Written at once: this is the paid answer a resumed run must not ask for again.
                    _finish(result.id, status=ExperimentResult.Status.DONE, output=row["output"],
                            request_id=row["id"], latency_ms=latency, prompt_tokens=row["prompt_tokens"],
                            completion_tokens=row["completion_tokens"], cost_usd=row["cost_usd"],
                            attempts=result.attempts + attempts)
                    return
                failure = f"{call.provider} answered HTTP {response.status_code}: {response.text[:300]}"
                retryable = response.status_code in RETRYABLE or response.status_code >= 500
            else:
                retryable = True
            if not retryable or attempt == settings.EVAL_MAX_RETRIES or self.stop.is_set():
                break
            time.sleep(_wait_s(response, attempt))
        if self.stop.is_set() and attempt < settings.EVAL_MAX_RETRIES and retryable:
            return  # left pending: the resumed run tries again
        _finish(result.id, status=ExperimentResult.Status.ERROR, error=failure[:2000],
                attempts=result.attempts + attempts)

    def _log(self, result, call, key, body: bytes, response: httpx.Response, started_at: float,
             latency: int) -> dict:
        from dashboard.tasks import _output_text
        from spanlens.requestlog.writer import get_writer

        meta = {"session_id": f"experiment-{self.run.id}"}
        if result.variant.prompt_version_id:
            meta["prompt_version_id"] = str(result.variant.prompt_version_id)
        entry = JudgeLog(
            created_at=started_at,
            tenant=SimpleNamespace(organization_id=str(self.run.organization_id), project_id=str(key.project_id),
                                   api_key_id=None),
            provider=call.provider, endpoint=call.endpoint, method="POST", meta=meta)
        entry.origin = ORIGIN_EXPERIMENT
        entry.id = new_request_id(entry.created_at)
        entry.provider_key_id = str(key.id)
        entry.model = call.model
        entry.request_body = body
        entry.response_raw = response.content
        entry.status_code = response.status_code
        entry.latency_ms = latency
        entry.price_free = bool(key.price_free)
        row = entry.to_row()
        get_writer().enqueue(entry)
        return {"id": row["id"], "prompt_tokens": row["prompt_tokens"] or 0,
                "completion_tokens": row["completion_tokens"] or 0,
                "cost_usd": Decimal(str(row["cost_usd"])) if row["cost_usd"] is not None else None,
                "output": _output_text(call.provider, response.content) if response.status_code < 300 else ""}


# --- scoring ------------------------------------------------------------------------------

def _score_one(run: ExperimentRun, snapshot: dict, judges: dict, result: ExperimentResult) -> None:
    if ExperimentScore.objects.filter(result_id=result.id, evaluator_id=snapshot["id"]).exists():
        return
    threshold = snapshot.get("pass_threshold")
    passed = (lambda s: None if s is None or threshold is None else s >= threshold)
    fields: dict
    if snapshot["type"] != "llm_judge":
        outcome = scorers.score(snapshot["type"], snapshot.get("config") or {}, result.output,
                                result.item.expected_output)
        if outcome.score is None:
            fields = {"status": "error", "error": outcome.error}
        else:
            fields = {"status": "scored", "score": outcome.score, "passed": passed(outcome.score),
                      "reasoning": outcome.reasoning}
    else:
        sample = SimpleNamespace(input=result.item.input, output=result.output,
                                 expected_output=result.item.expected_output, context="")
        key = eval_runner.cache_key(snapshot, sample)
        hit = JudgeVerdict.objects.filter(organization_id=run.organization_id, key=key).first()
        judge_client = judges.get(snapshot["id"])
        if hit is not None:
            fields = {"status": "scored", "score": hit.score, "passed": passed(hit.score),
                      "reasoning": hit.reasoning, "cached": True}
        elif isinstance(judge_client, str):
            fields = {"status": "error", "error": judge_client}
        else:
            outcome = judge_client.judge(input=sample.input, output=sample.output, expected=sample.expected_output)
            if outcome.status == "scored":
                v = outcome.verdict
                try:
                    with transaction.atomic():
                        JudgeVerdict.objects.create(organization_id=run.organization_id, key=key,
                                                    raw_score=v.raw_score, score=v.score, reasoning=v.reasoning,
                                                    judge_tokens=outcome.tokens, judge_cost_usd=outcome.cost_usd)
                except IntegrityError:
                    pass
                fields = {"status": "scored", "score": v.score, "passed": passed(v.score),
                          "reasoning": v.reasoning, "judge_cost_usd": outcome.cost_usd}
            else:
                fields = {"status": outcome.status, "error": outcome.error[:2000],
                          "judge_cost_usd": outcome.cost_usd}
    try:
        with transaction.atomic():
            ExperimentScore.objects.create(organization_id=run.organization_id, result_id=result.id,
                                           evaluator_id=snapshot["id"], **fields)
    except IntegrityError:
        pass  # scored by another pass already


def _judges(run: ExperimentRun, stop) -> dict:
    from evals.judge_client import Judge, NoJudgeKey, key_for

    judges: dict = {}
    for snapshot in run.evaluator_snapshots:
        if snapshot["type"] != "llm_judge":
            continue
        config = snapshot["config"]
        try:
            key = key_for(run.organization_id, config["judge_provider"], snapshot.get("project_id"))
            judges[snapshot["id"]] = Judge(config, key, organization_id=run.organization_id, run_id=run.id,
                                           stop=stop)
        except NoJudgeKey as exc:
            judges[snapshot["id"]] = str(exc)
    return judges


# --- the whole run ------------------------------------------------------------------------

def execute(run_id: str) -> str:
    """"not claimed", "completed", "failed", "lost" or "stopped", as for eval runs."""
    claimed = claim(run_id)
    if claimed is None:
        return "not claimed"
    run, token = claimed
    beat = Heartbeat(run.id, token)
    with beat:
        try:
            if not run.prepared:
                prepare(run)
            status = _work(run, beat)
        except Exception as exc:
            log.exception("experiment run %s failed", run.id)
            ExperimentRun.objects.filter(id=run.id, lease_token=token).update(
                status=ExperimentRun.Status.FAILED, error=f"{exc.__class__.__name__}: {exc}"[:2000],
                finished_at=timezone.now(), lease_token="")
            return "failed"
    if status == "lost":
        return "lost"
    if status == "stopped":
        if ExperimentRun.objects.filter(id=run.id, lease_token=token).update(
                status=ExperimentRun.Status.INTERRUPTED, lease_token=""):
            try:
                from evals import experiment_services

                experiment_services.enqueue(run.id)
            except Exception:
                log.warning("experiment run %s interrupted; it resumes when a worker is back", run.id)
        return "stopped"
    finalize(run, token)
    return "completed"


def _work(run: ExperimentRun, beat) -> str:
    stop = eval_runner._Stop(beat.lost)
    generator = Generator(run, stop)
    pending = list(run.results.filter(status=ExperimentResult.Status.PENDING)
                   .select_related("item", "variant", "variant__prompt_version__prompt"))

    def generate(result: ExperimentResult) -> None:
        try:
            if stop.is_set():
                return
            if result.variant.recorded:
                _recorded(result)
            else:
                generator.generate(result)
        except Exception as exc:
            log.exception("experiment run %s: result %s failed", run.id, result.id)
            _finish(result.id, status=ExperimentResult.Status.ERROR, error=f"{exc.__class__.__name__}: {exc}"[:2000])
        finally:
            connections.close_all()

    workers = max(1, settings.EVAL_CONCURRENCY)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="experiment-gen") as pool:
        list(pool.map(generate, pending))
    if beat.lost.is_set():
        return "lost"
    if stopping_now():
        return "stopped"

    snapshots = run.evaluator_snapshots or []
    if snapshots:
        judges = _judges(run, stop)
        done = list(run.results.filter(status=ExperimentResult.Status.DONE).select_related("item"))
        scored = set(ExperimentScore.objects.filter(result__run=run).values_list("result_id", "evaluator_id"))
        work = [(s, r) for r in done for s in snapshots if (r.id, uuid.UUID(s["id"])) not in scored]

        def score(pair) -> None:
            snapshot, result = pair
            try:
                if not stop.is_set():
                    _score_one(run, snapshot, judges, result)
            except Exception as exc:
                log.exception("experiment run %s: scoring result %s failed", run.id, result.id)
                try:
                    ExperimentScore.objects.create(organization_id=run.organization_id, result_id=result.id,
                                                   evaluator_id=snapshot["id"], status="error",
                                                   error=f"{exc.__class__.__name__}: {exc}"[:2000])
                except IntegrityError:
                    pass
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="experiment-judge") as pool:
            list(pool.map(score, work))
    if beat.lost.is_set():
        return "lost"
    return "stopped" if stopping_now() else "done"


def stopping_now() -> bool:
    return eval_runner.stopping.is_set()


def finalize(run: ExperimentRun, token: str) -> None:
    from evals import experiment_results

    if run.results.filter(status=ExperimentResult.Status.PENDING).exists():
        return
    summary = experiment_results.summarize(run)
    all_failed = summary["total"] > 0 and summary["generated"] == 0
    first_error = run.results.exclude(error="").values_list("error", flat=True).first() or ""
    ExperimentRun.objects.filter(id=run.id, lease_token=token).update(
        status=ExperimentRun.Status.FAILED if all_failed else ExperimentRun.Status.COMPLETED,
        stats=summary, cost_usd=Decimal(str(summary["cost_usd"])), finished_at=timezone.now(), lease_token="",
        error=f"every generation failed; the first: {first_error}"[:2000] if all_failed else "")
