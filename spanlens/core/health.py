"""Probes behind /health/ready and /health/deep, and the background heartbeats.

Liveness (/health) lives in the proxy app and touches nothing. Readiness pings
each dependency a request needs; the deep check adds how the background side
is doing (fallback queue, worker heartbeat, last beat, rows written).
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

PROBE_TIMEOUT_S = 3
# A probe's whole answer, whatever the driver's own timeouts: a load balancer
# asks again in seconds, so a hung dependency must read as "down", not as a hang.
PROBE_BUDGET_S = 4.0


def stale_after_s() -> float:
    # Three missed beats before the deep check calls the worker stale.
    return settings.HEARTBEAT_INTERVAL_S * 3


@dataclass
class Probe:
    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    detail: str | None = None


def _probe(run) -> Probe:
    start = time.perf_counter()
    try:
        detail = run()
    except Exception as exc:
        return Probe(False, error=(str(exc).strip().splitlines() or [type(exc).__name__])[0][:300])
    return Probe(True, round((time.perf_counter() - start) * 1000, 1), detail=detail)


def ping_database() -> Probe:
    from django.db import connection

    def run():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return connection.vendor

    return _probe(run)


def ping_clickhouse() -> Probe:
    from spanlens.requestlog.engine import get_engine

    def run():
        engine = get_engine()
        if not engine.ping():
            raise ConnectionError("ping failed")
        return engine.name

    return _probe(run)


def ping_broker_url(url: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raises when the Celery broker at `url` does not answer."""
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
        return
    from kombu import Connection

    with Connection(url, connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1)


def ping_broker() -> Probe:
    url = settings.CELERY_BROKER_URL

    def run():
        if url.startswith("memory://"):
            return "in-process"
        ping_broker_url(url)
        return url.split("://", 1)[0]

    return _probe(run)


class _Pending:
    """One probe running on a daemon thread (never delays shutdown)."""

    def __init__(self, probe):
        self.done = threading.Event()
        self.result: Probe | None = None

        def run():
            self.result = probe()
            self.done.set()

        threading.Thread(target=run, daemon=True, name="spanlens-health").start()


_in_flight: dict[str, _Pending] = {}
_in_flight_lock = threading.Lock()


def _start(name: str, probe) -> _Pending:
    """A dependency whose last probe still hangs is not probed again: one stuck
    thread per dependency at most."""
    with _in_flight_lock:
        pending = _in_flight.get(name)
        if pending is None or pending.done.is_set():
            pending = _in_flight[name] = _Pending(probe)
    return pending


def _wait(pending: _Pending, deadline: float) -> Probe:
    if not pending.done.wait(max(0.0, deadline - time.monotonic())):
        return Probe(False, error=f"no answer within {PROBE_BUDGET_S:g}s")
    return pending.result


def ready() -> tuple[bool, dict]:
    # The database on this thread, whose connection Django manages
    # (connect_timeout bounds it); the others on their own threads.
    deadline = time.monotonic() + PROBE_BUDGET_S
    clickhouse, broker = _start("clickhouse", ping_clickhouse), _start("broker", ping_broker)
    probes = {"database": ping_database(), "clickhouse": _wait(clickhouse, deadline),
              "broker": _wait(broker, deadline)}
    down = [name for name, p in probes.items() if not p.ok]
    body = {
        "status": "ok" if not down else "down",
        "checks": {name: _clean(asdict(p)) for name, p in probes.items()},
    }
    if down:
        body["down"] = down
    return not down, body


# --- heartbeats ---------------------------------------------------------------------

def record_heartbeat(name: str) -> None:
    from spanlens.core.models import Heartbeat

    Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": timezone.now()})


def heartbeat_at(name: str) -> datetime | None:
    from spanlens.core.models import Heartbeat

    return Heartbeat.objects.filter(name=name).values_list("beat_at", flat=True).first()


def age_s(at: datetime | None) -> float | None:
    return None if at is None else round((timezone.now() - at).total_seconds(), 1)


def deep() -> tuple[bool, dict]:
    from spanlens.core.models import RequestFallback
    from spanlens.version import VERSION

    ok, body = ready()
    body["version"] = VERSION
    warnings = []
    try:
        body["fallback_queue"] = RequestFallback.objects.count()
        worker_at, beat_at = heartbeat_at("worker"), heartbeat_at("beat")
    except Exception as exc:  # database down: ready() already says so
        body["fallback_queue"] = None
        worker_at = beat_at = None
        warnings.append(f"database unavailable: {exc}")
    body["worker"] = {
        "heartbeat_at": worker_at.isoformat() if worker_at else None,
        "heartbeat_age_s": age_s(worker_at),
        "last_beat_at": beat_at.isoformat() if beat_at else None,
        "last_beat_age_s": age_s(beat_at),
    }
    writer = log_writer_status()
    body["log_writer"] = writer
    warnings.extend(log_writer_warnings(writer))
    from spanlens.requestlog.engine import stored_nothing_for

    if stored_nothing_for(60):
        # The embedded log's store ran no insert in the last minute: no need to wake it (a
        # monitor polling this page would otherwise keep it, and its memory, up for good).
        body["rows_last_minute"] = 0
    else:
        try:
            from spanlens.requestlog import queries

            body["rows_last_minute"] = queries.count_rows_since(seconds=60)
        except Exception:
            body["rows_last_minute"] = None
    stale = stale_after_s()
    if worker_at is None or age_s(worker_at) > stale:
        warnings.append("no worker heartbeat in the last %ds: is the Celery worker running?" % stale)
    if beat_at is None or age_s(beat_at) > stale:
        warnings.append("no beat run in the last %ds: is celery beat running?" % stale)
    if body.get("fallback_queue"):
        warnings.append(f"{body['fallback_queue']} request-log rows wait in the fallback queue")
    if warnings:
        body["warnings"] = warnings
        if ok:
            body["status"] = "degraded"
    return ok, body


def log_writer_status() -> dict:
    """This process's request-log writer (each web process has its own)."""
    from dataclasses import asdict

    from spanlens.requestlog.writer import get_writer

    return asdict(get_writer().status())


def log_writer_warnings(status: dict) -> list[str]:
    warnings = []
    builder = status.get("builder")
    if builder and not builder["alive"] and not builder.get("resting"):
        warnings.append(f"the request-log builder process exited and is being restarted "
                        f"({builder['restarts']} restarts so far); its rows wait in the spool")
    elif not status["alive"]:
        warnings.append("the request-log writer thread is not running: restart the server")
    store = status.get("store")
    if store and not store["alive"] and not store["resting"] and store["starts"]:
        warnings.append("the request-log store process exited; the next read or insert starts it again")
    if status["rows_dropped"]:
        warnings.append(f"{status['rows_dropped']} request-log rows were dropped: the in-memory queue was full "
                        "(LOG_QUEUE_MAX_ROWS) while ClickHouse and the fallback table were both unavailable")
    spool = status.get("spool")
    if spool and spool["full"]:
        warnings.append(f"the crash spool is full ({spool['bytes'] // (1024 * 1024)} MB, LOG_SPOOL_MAX_MB): "
                        f"{spool['records_not_spooled']} rows are kept in memory only until they are stored")
    age = status["oldest_pending_age_s"]
    if status["last_error"] and status["pending"] and age is not None and age > 5:
        warnings.append(f"{status['pending']} request-log rows wait in memory (oldest {age:.0f}s): "
                        f"{status['last_error']}")
    return warnings


def _clean(data: dict) -> dict:
    return {k: v for k, v in data.items() if v is not None}
