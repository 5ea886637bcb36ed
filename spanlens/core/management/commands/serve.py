"""`manage.py serve`: the production run outside Docker.

Three kinds of process: the ASGI server (dashboard + proxy on one port, N
workers), a Celery worker and celery beat. `serve all` supervises the three
(if one dies, all stop); `serve web|worker|beat` replaces itself with just that
one, which is what each container of the compose file runs.

The ASGI server is a setting (ASGI_SERVER) so a benchmark can pick it without
code changes; each entry of SERVERS only knows how to spell its command line.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

APP = "spanlens.asgi:application"
MIGRATION_LOCK_ID = 0x5350414E  # "SPAN": any constant shared by all replicas


def uvicorn_argv(host: str, port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", APP, "--host", host, "--port", str(port),
            "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
            "--lifespan", "on", "--proxy-headers", "--no-server-header",
            # Spanlens writes its own access line, which leaves out query strings (Gemini's ?key=).
            "--no-access-log"]


def granian_argv(host: str, port: int, workers: int) -> list[str]:
    return [_binary("granian"), "--interface", "asgi", "--host", host, "--port", str(port),
            "--workers", str(workers), "--loop", "uvloop", APP]


def hypercorn_argv(host: str, port: int, workers: int) -> list[str]:
    return [_binary("hypercorn"), "--bind", f"{host}:{port}", "--workers", str(workers),
            "--worker-class", "uvloop", APP]


SERVERS = {"uvicorn": uvicorn_argv, "granian": granian_argv, "hypercorn": hypercorn_argv}


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(os.path.join(os.path.dirname(sys.executable), name))
    if not found:
        raise CommandError(f"ASGI_SERVER={name} is not installed: pip install {name}")
    return found


def celery_argv(kind: str) -> list[str]:
    argv = [sys.executable, "-m", "celery", "-A", "spanlens.celery_app", kind, "--loglevel", "INFO"]
    if kind == "worker":
        argv += ["-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--concurrency", str(settings.CELERY_CONCURRENCY)]
    else:
        argv += ["--schedule", str(settings.VAR_DIR / "celerybeat-schedule")]
    return argv


def refusal(role: str, workers: int) -> str | None:
    """Why this combination cannot run, or None. Checked before anything starts."""
    separate_celery = role in ("all", "worker")
    if not settings.CLICKHOUSE_URL and (workers > 1 or separate_celery):
        what = f"WEB_CONCURRENCY={workers} web workers" if workers > 1 else "a separate Celery worker"
        return (
            f"Refusing to start {what} on embedded ClickHouse (chDB): chDB opens its data folder in "
            "one process only. Set CLICKHOUSE_URL to a ClickHouse server (e.g. http://clickhouse:8123), "
            "or run the single-process embedded install with `make run`."
        )
    if role in ("all", "worker", "beat") and settings.CELERY_IN_PROCESS_WORKER:
        return (
            "Refusing to start Celery worker/beat processes without a broker: they cannot share the "
            "in-memory one. Set REDIS_URL=redis://HOST:6379/0 (or CELERY_BROKER_URL)."
        )
    return None


class Command(BaseCommand):
    help = "Run Spanlens in production: ASGI server with N workers, Celery worker and beat."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("role", nargs="?", default="all", choices=["all", "web", "worker", "beat"])
        parser.add_argument("--workers", type=int, default=settings.WEB_CONCURRENCY,
                            help="ASGI worker processes (default: WEB_CONCURRENCY)")
        parser.add_argument("--server", default=settings.ASGI_SERVER, choices=sorted(SERVERS),
                            help="ASGI server (default: ASGI_SERVER)")
        parser.add_argument("--host", default="0.0.0.0")
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--migrate", action="store_true",
                            help="apply Django and ClickHouse migrations first (idempotent)")
        parser.add_argument("--dry-run", action="store_true", help="print the commands, start nothing")

    def handle(self, *args, role, workers, server, host, port, migrate, dry_run, **options):
        reason = refusal(role, workers)
        if reason:
            raise CommandError(reason)
        plan = []
        if role in ("all", "web"):
            plan.append(("web", SERVERS[server](host, port, workers)))
        if role in ("all", "worker"):
            plan.append(("worker", celery_argv("worker")))
        if role in ("all", "beat"):
            plan.append(("beat", celery_argv("beat")))
        if dry_run:
            for name, argv in plan:
                self.stdout.write(f"{name}: {' '.join(argv)}")
            return
        if role in ("all", "web") and workers > 1:
            prepare_metrics_dir()
        if migrate:
            with migration_lock():
                call_command("migrate", interactive=False, verbosity=1)
                call_command("clickhouse_migrate")
        sys.stdout.flush()
        if len(plan) == 1:
            # One process per container: become it, so signals reach it directly.
            os.execv(plan[0][1][0], plan[0][1])
        raise SystemExit(supervise(plan, self.stdout))


def prepare_metrics_dir() -> None:
    """Several web workers: each writes its /metrics counters to files in one folder and
    whichever worker answers a scrape sums them (prometheus_client's multiprocess mode).
    The folder starts empty, or counters of dead workers from the last run would linger."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = settings.VAR_DIR / "prometheus"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


@contextlib.contextmanager
def migration_lock():
    """Several web replicas start with --migrate at once: on PostgreSQL they take
    turns (an advisory lock), and the later ones find nothing left to do."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])
        # Do not hand a session-level lock connection to the server we exec into.
        connection.close()


def supervise(plan: list[tuple[str, list[str]]], out) -> int:
    """Run every process; when one exits or we get SIGTERM/SIGINT, stop the others."""
    procs = {name: subprocess.Popen(argv) for name, argv in plan}
    out.write("started " + ", ".join(f"{name} (pid {p.pid})" for name, p in procs.items()))
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stopping.append(signum))
    exit_code = 0
    while not stopping:
        dead = [(name, p.returncode) for name, p in procs.items() if p.poll() is not None]
        if dead:
            name, exit_code = dead[0]
            out.write(f"{name} exited with {exit_code}; stopping the others")
            exit_code = exit_code or 1
            break
        time.sleep(0.3)
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for p in procs.values():
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return exit_code
