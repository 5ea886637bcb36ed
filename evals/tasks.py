"""Background work for evals. Tasks take ids, re-fetch, and are safe to run twice."""
from __future__ import annotations

from celery import shared_task
from celery.signals import worker_shutting_down


@worker_shutting_down.connect
def _stop_runs(**kwargs):
    """A worker shutting down hands its runs back (interrupted, queued again) instead of
    holding the shutdown until their last sample."""
    from evals import eval_runner

    eval_runner.stopping.set()


@shared_task(name="evals.tasks.run_eval", ignore_result=True)
def run_eval(run_id: str) -> str:
    from django.db import connections

    from evals import eval_runner

    try:
        return eval_runner.execute(run_id)
    finally:
        # A run can take hours; its thread's connection should not outlive it.
        connections.close_all()


@shared_task(name="evals.tasks.resume_stale_runs", ignore_result=True)
def resume_stale_runs(stale_after_s: float | None = None) -> list[str]:
    """The beat task: eval and experiment runs without a heartbeat for EVAL_STALE_AFTER_S are resumed."""
    from evals import eval_services, experiment_services

    return eval_services.resume_stale_runs(stale_after_s) + experiment_services.resume_stale_runs(stale_after_s)


@shared_task(name="evals.tasks.run_experiment", ignore_result=True)
def run_experiment(run_id: str) -> str:
    from django.db import connections

    from evals import experiment_runner

    try:
        return experiment_runner.execute(run_id)
    finally:
        connections.close_all()
