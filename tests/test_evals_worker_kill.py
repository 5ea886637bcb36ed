"""A real Celery worker process (Redis broker, PostgreSQL) killed with SIGKILL in the middle
of an eval run; the stale-heartbeat task resumes the run on a new worker, which finishes it
with exactly one result per sample and no judge call answered twice."""
from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter

import pytest
from django.db import connection

from evals import dataset_services, eval_services
from evals.models import EvalResult, EvalRun, JudgeVerdict
from spanlens.core import services
from tests import mock_upstream as mock
from tests.procs import base_env, database_url_for, spawn

SAMPLES = 16


def _worker_env(tmp_path, upstream_url: str) -> dict:
    return base_env(
        tmp_path,
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        REDIS_URL=os.environ["TEST_REDIS_URL"],
        CELERY_QUEUE=os.environ["CELERY_QUEUE"],
        ENCRYPTION_KEY=os.environ["ENCRYPTION_KEY"],
        OPENAI_BASE_URL=upstream_url,
        EVAL_CONCURRENCY="2",
        EVAL_HEARTBEAT_S="0.5",
        DB_CONN_MAX_AGE="0",
    )


def _worker_argv() -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "spanlens.celery_app", "worker", "-Q", os.environ["CELERY_QUEUE"],
            "--pool", "threads", "-c", "2", "--without-heartbeat", "--without-mingle", "--without-gossip",
            "-l", "WARNING"]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _done(run) -> int:
    return run.results.exclude(status=EvalResult.Status.PENDING).count()


@pytest.mark.timeout(180)
def test_a_run_survives_kill_9_of_its_worker_and_pays_for_no_verdict_twice(tmp_path, live_db, org, project,
                                                                           mock_upstream):
    if connection.vendor != "postgresql" or not os.environ.get("TEST_REDIS_URL"):
        pytest.skip("needs the real PostgreSQL and Redis (make test)")
    mock_upstream.clear()
    mock_upstream.judge_delay_s = 0.5
    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI")
    evaluator = eval_services.create_evaluator(org, name="relevance", type="llm_judge", config={
        "criterion": "Relevant.", "judge_provider": "openai", "judge_model": "gpt-4o-mini",
        "scale_min": 1, "scale_max": 5})
    dataset = dataset_services.create_dataset(org, name="sky")
    dataset_services.add_items(dataset, [{"input": f"Question {i}: why is the sky blue?",
                                          "output": f"Answer {i}: the sky is blue because of scattering."}
                                         for i in range(SAMPLES)])
    env = _worker_env(tmp_path, mock_upstream.url)
    try:
        with spawn(_worker_argv(), env) as first:
            run = eval_services.start_eval_run(org, evaluator,
                                               eval_services.parse_run_request(org, {"dataset": "sky"}))
            try:
                _wait(lambda: _done(run) >= 4, 60, "the first results")
            except AssertionError:
                first.kill()
                raise AssertionError(first.stdout.read()[-3000:]) from None
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        done_at_kill = _done(run)
        run.refresh_from_db()
        assert run.status == EvalRun.Status.RUNNING  # the dead worker could not say anything
        assert 4 <= done_at_kill < SAMPLES
        # Calls the worker had in flight are cut off, not answered.
        _wait(lambda: all(r.completed or r.aborted for r in mock_upstream.judge_calls(completed_only=False)), 10,
              "the mock to see the hang-ups")
        answered_before = len(mock_upstream.judge_calls())
        assert answered_before >= done_at_kill

        # The beat task finds the silent run and queues it again; a new worker picks it up.
        time.sleep(1.2)
        assert eval_services.resume_stale_runs(stale_after_s=1) == [str(run.id)]
        run.refresh_from_db()
        assert run.status == EvalRun.Status.INTERRUPTED
        with spawn(_worker_argv(), env):
            _wait(lambda: EvalRun.objects.get(id=run.id).status == EvalRun.Status.COMPLETED, 90, "the resumed run")
    finally:
        mock_upstream.judge_delay_s = 0.0

    run.refresh_from_db()
    assert run.resumes == 1 and run.total == SAMPLES
    results = list(run.results.all())
    assert len(results) == SAMPLES and {r.status for r in results} == {EvalResult.Status.SCORED}
    assert len({r.sample_key for r in results}) == SAMPLES
    # One answered judge call per sample, across both workers: nothing paid twice.
    answered = Counter()
    for call in mock_upstream.judge_calls():
        prompt = call.json["messages"][1]["content"]
        answered[next(i for i in range(SAMPLES) if f"Answer {i}:" in prompt)] += 1
    assert answered == Counter({i: 1 for i in range(SAMPLES)})
    assert JudgeVerdict.objects.filter(organization=org).count() == SAMPLES
    cached = [r for r in results if r.cached]
    assert all(r.judge_cost_usd == 0 for r in cached)
    assert run.judge_cost_usd == sum(r.judge_cost_usd for r in results)
