"""The embedded default's Celery worker: threads inside the web process.

chDB's data folder opens in one process only, so the worker that writes the
request log must live in the process that serves the proxy. Periodic tasks run
from a small timer thread instead of celery beat (whose embedded form forks).
"""
from __future__ import annotations

import logging
import threading

log = logging.getLogger("spanlens.worker")
_started = False


def start(concurrency: int = 2) -> None:
    global _started
    if _started:
        return
    _started = True
    from celery.worker import WorkController

    from spanlens.celery_app import app

    worker = WorkController(
        app=app,
        pool_cls="threads",
        concurrency=concurrency,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel="WARNING",
        hostname="embedded@spanlens",
    )
    _mark_task_statements()
    threading.Thread(target=worker.start, name="spanlens-celery", daemon=True).start()
    _start_periodic(app)
    # This process hosts the only worker, so a run still "running" was this worker's
    # before a restart: resume it now rather than after the stale-heartbeat wait.
    app.send_task("evals.tasks.resume_stale_runs", kwargs={"stale_after_s": 0})
    log.info("in-process Celery worker started (%d threads)", concurrency)


def _mark_task_statements() -> None:
    """A task's request-log statements are background work: the store process rests soon
    after them (store.mark_background). The signals run in the thread that runs the task."""
    from celery.signals import task_postrun, task_prerun

    from spanlens.requestlog.store import mark_background

    task_prerun.connect(lambda **kwargs: mark_background(True), weak=False)
    task_postrun.connect(lambda **kwargs: mark_background(False), weak=False)


def _start_periodic(app) -> None:
    def tick(name: str, task: str, every: float) -> None:
        stop = threading.Event()
        while not stop.wait(every):
            try:
                app.send_task(task)
            except Exception:  # never let a scheduler hiccup kill the thread
                log.exception("could not schedule %s", name)

    for name, entry in app.conf.beat_schedule.items():
        threading.Thread(
            target=tick, args=(name, entry["task"], float(entry["schedule"])), daemon=True,
            name=f"spanlens-beat-{name}",
        ).start()
