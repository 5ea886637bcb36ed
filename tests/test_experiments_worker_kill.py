"""A real Celery worker process killed with SIGKILL in the middle of an experiment run; the
stale-heartbeat task resumes it on a new worker, which finishes with exactly one result per
(item, variant) and no generation answered twice by the provider."""
from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest
from django.db import connection

from evals import dataset_services, experiment_services
from evals.models import ExperimentResult, ExperimentRun
from spanlens.core import services
from tests import mock_upstream as mock
from tests.test_evals_worker_kill import _wait, _worker_argv, _worker_env

ITEMS = 10


def _done(run) -> int:
    return run.results.exclude(status=ExperimentResult.Status.PENDING).count()


def _generations(upstream):
    return [r for r in upstream.requests if r.path.endswith("/chat/completions") and r.completed]


@pytest.mark.timeout(180)
def test_an_experiment_survives_kill_9_of_its_worker_and_pays_for_no_generation_twice(
        tmp_path, live_db, org, project, mock_upstream):
    if connection.vendor != "postgresql" or not os.environ.get("TEST_REDIS_URL"):
        pytest.skip("needs the real PostgreSQL and Redis (make test)")
    mock_upstream.clear()
    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI")
    dataset = dataset_services.create_dataset(org, name="numbers")
    dataset_services.add_items(dataset, [{"input": f"Item {i}: say hello"} for i in range(ITEMS)])
    experiment = experiment_services.create_experiment(
        org, name="kill", dataset=dataset,
        variants=[{"model": "gpt-4o-mini+echo-prompt+slow"}, {"model": "gpt-4o+echo-prompt+slow"}])
    env = _worker_env(tmp_path, mock_upstream.url)
    with spawn_worker(env) as first:
        run = experiment_services.start_run(experiment)
        try:
            _wait(lambda: _done(run) >= 4, 60, "the first results")
        except AssertionError:
            first.kill()
            raise AssertionError(first.stdout.read()[-3000:]) from None
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    done_at_kill = _done(run)
    run.refresh_from_db()
    assert run.status == ExperimentRun.Status.RUNNING and 4 <= done_at_kill < 2 * ITEMS
    _wait(lambda: all(r.completed or r.aborted for r in mock_upstream.requests), 10, "the mock to see the hang-ups")

    time.sleep(1.2)
    assert experiment_services.resume_stale_runs(stale_after_s=1) == [str(run.id)]
    with spawn_worker(env):
        _wait(lambda: ExperimentRun.objects.get(id=run.id).status == ExperimentRun.Status.COMPLETED, 90,
              "the resumed run")
    run.refresh_from_db()
    assert run.resumes == 1 and run.total == 2 * ITEMS
    assert {r.status for r in run.results.all()} == {ExperimentResult.Status.DONE}
    answered = Counter((c.json["model"], c.json["messages"][-1]["content"]) for c in _generations(mock_upstream))
    assert len(answered) == 2 * ITEMS and set(answered.values()) == {1}  # nothing paid twice


def spawn_worker(env):
    from tests.procs import spawn

    return spawn(_worker_argv(), env)
