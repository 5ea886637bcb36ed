"""`manage.py serve`: the production run as real processes (ASGI workers,
Celery worker, celery beat), and its refusal to share embedded chDB."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from django.db import connection

from tests.procs import ROOT, base_env, database_url_for, free_port, spawn

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def serve(tmp_path, *args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "serve", *args],
        env=base_env(tmp_path, **env), capture_output=True, text=True, timeout=60,
    )


def test_it_refuses_several_workers_on_embedded_chdb(tmp_path):
    result = serve(tmp_path, "web", WEB_CONCURRENCY="4")
    assert result.returncode == 1
    assert "WEB_CONCURRENCY=4 web workers on embedded ClickHouse (chDB)" in result.stderr
    assert "Set CLICKHOUSE_URL" in result.stderr


def test_it_refuses_a_separate_worker_without_a_broker(tmp_path):
    result = serve(tmp_path, "beat", CLICKHOUSE_URL="http://127.0.0.1:9")
    assert result.returncode == 1
    assert "Set REDIS_URL" in result.stderr


def test_the_asgi_server_is_a_setting(tmp_path):
    result = serve(tmp_path, "--dry-run", CLICKHOUSE_URL="http://127.0.0.1:9", REDIS_URL=REDIS,
                   WEB_CONCURRENCY="3")
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert set(lines) == {"web", "worker", "beat"}
    assert "-m uvicorn spanlens.asgi:application" in lines["web"]
    assert "--workers 3 --loop uvloop --http httptools" in lines["web"]
    assert "-m celery -A spanlens.celery_app worker" in lines["worker"]
    assert "-m celery -A spanlens.celery_app beat" in lines["beat"]


@pytest.mark.timeout(120)
def test_serve_all_runs_web_workers_celery_worker_and_beat(tmp_path, transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs the real PostgreSQL (make test)")
    port = free_port()
    env = base_env(
        tmp_path,
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        REDIS_URL=REDIS,
        # No ClickHouse server on this machine: a closed port, which readiness must report.
        CLICKHOUSE_URL=f"http://127.0.0.1:{free_port()}",
        WEB_CONCURRENCY="2",
        CELERY_CONCURRENCY="1",
        HEARTBEAT_INTERVAL_S="1",
        CELERY_QUEUE=f"spanlens-serve-test-{os.getpid()}",
        PORT=str(port),
    )
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, str(ROOT / "manage.py"), "serve", "all"]
    with spawn(argv, env, url=f"{url}/health") as proc:
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
        deadline = time.monotonic() + 60
        while True:
            deep = httpx.get(f"{url}/health/deep", timeout=20).json()
            if deep["worker"]["heartbeat_age_s"] is not None and deep["worker"]["last_beat_at"]:
                break
            assert time.monotonic() < deadline, deep
            time.sleep(0.5)
        assert deep["down"] == ["clickhouse"]
        assert deep["worker"]["heartbeat_age_s"] < 10
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=2)


def test_replicas_migrating_at_once_take_turns(tmp_path, transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs the real PostgreSQL (make test)")
    from spanlens.core.management.commands.serve import MIGRATION_LOCK_ID, migration_lock

    with migration_lock():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
                           [MIGRATION_LOCK_ID])
            assert cursor.fetchone()[0] == 1
