"""Liveness, readiness and the deep check, with each dependency really stopped:
the server runs in its own process with that dependency at a closed port."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from django.db import connection

from spanlens.core import health
from spanlens.core.models import RequestFallback
from spanlens.version import VERSION
from tests.procs import database_url_for, free_port, web_server

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def test_database_url(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs the real PostgreSQL (make test)")
    return database_url_for(connection.settings_dict["NAME"])


def test_liveness_answers_with_the_version(spanlens_server):
    body = httpx.get(f"{spanlens_server.url}/health").json()
    assert body == {"status": "ok", "version": VERSION}


def test_ready_when_everything_is_up(tmp_path, test_database_url):
    with web_server(tmp_path, DATABASE_URL=test_database_url, REDIS_URL=REDIS) as url:
        response = httpx.get(f"{url}/health/ready", timeout=20)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "clickhouse", "broker"}
    assert all(c["ok"] and c["latency_ms"] is not None for c in body["checks"].values())


def test_ready_names_clickhouse_when_it_is_down(tmp_path, test_database_url):
    env = dict(DATABASE_URL=test_database_url, REDIS_URL=REDIS, CLICKHOUSE_URL=f"http://127.0.0.1:{free_port()}")
    with web_server(tmp_path, **env) as url:
        response = httpx.get(f"{url}/health/ready", timeout=30)
    assert response.status_code == 503
    assert response.json()["down"] == ["clickhouse"]
    assert "refused" in response.json()["checks"]["clickhouse"]["error"].lower()


def test_ready_names_the_broker_when_it_is_down(tmp_path, test_database_url):
    env = dict(DATABASE_URL=test_database_url, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    with web_server(tmp_path, **env) as url:
        response = httpx.get(f"{url}/health/ready", timeout=20)
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]


def test_ready_and_deep_name_the_database_when_it_is_down(tmp_path):
    env = dict(DATABASE_URL=f"postgresql://127.0.0.1:{free_port()}/spanlens", REDIS_URL=REDIS)
    with web_server(tmp_path, **env) as url:
        ready = httpx.get(f"{url}/health/ready", timeout=20)
        deep = httpx.get(f"{url}/health/deep", timeout=20)
    assert ready.status_code == 503 and ready.json()["down"] == ["database"]
    assert deep.status_code == 503 and deep.json()["fallback_queue"] is None


def test_deep_reports_queue_heartbeats_and_recent_rows(spanlens_server, live_db, org, project):
    from spanlens.requestlog import queries

    RequestFallback.objects.create(row={"id": str(uuid.uuid4())})
    health.record_heartbeat("beat")
    health.record_heartbeat("worker")
    now = datetime.now(timezone.utc)
    queries.insert_requests([{
        "id": str(uuid.uuid4()), "organization_id": str(org.id), "project_id": str(project.id),
        "provider": "openai", "model": "gpt-4o-mini", "endpoint": "/v1/chat/completions",
        "request_body": "{}", "response_body": "{}", "created_at": queries.format_ts(now),
    }])
    body = httpx.get(f"{spanlens_server.url}/health/deep").json()
    assert body["fallback_queue"] == 1
    assert body["rows_last_minute"] >= 1
    assert 0 <= body["worker"]["heartbeat_age_s"] < 5
    assert body["worker"]["last_beat_at"] is not None
    assert body["version"] == VERSION
    # the queued row is the only thing worth a warning
    assert body["status"] == "degraded"
    assert body["warnings"] == ["1 request-log rows wait in the fallback queue"]


def test_deep_calls_a_silent_worker_stale(spanlens_server, live_db):
    from spanlens.core.models import Heartbeat

    Heartbeat.objects.create(name="worker", beat_at=datetime.now(timezone.utc) - timedelta(minutes=10))
    response = httpx.get(f"{spanlens_server.url}/health/deep")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["worker"]["heartbeat_age_s"] >= 600
    assert any("Celery worker" in w for w in body["warnings"])


def test_the_heartbeat_task_records_the_worker(db):
    from spanlens.core.tasks import heartbeat

    heartbeat()
    assert health.heartbeat_at("worker") is not None


def test_a_hung_clickhouse_reads_as_down_within_the_budget(tmp_path, test_database_url):
    import socket
    import time

    # Accepts connections (kernel backlog) and never answers: a hung server.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        env = dict(DATABASE_URL=test_database_url, REDIS_URL=REDIS,
                   CLICKHOUSE_URL=f"http://127.0.0.1:{silent.getsockname()[1]}")
        with web_server(tmp_path, **env) as url:
            started = time.monotonic()
            response = httpx.get(f"{url}/health/ready", timeout=30)
            elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert response.status_code == 503
    assert response.json()["down"] == ["clickhouse"]
    assert response.json()["checks"]["clickhouse"]["error"] == "no answer within 4s"
    assert elapsed < 10


def test_check_heartbeat_is_the_beat_containers_healthcheck(db):
    from datetime import timedelta

    from django.core.management import CommandError, call_command
    from django.utils import timezone

    from spanlens.core.models import Heartbeat

    with pytest.raises(CommandError, match="no beat heartbeat recorded yet"):
        call_command("check_heartbeat", "beat")
    health.record_heartbeat("beat")
    call_command("check_heartbeat", "beat")
    Heartbeat.objects.filter(name="beat").update(beat_at=timezone.now() - timedelta(minutes=5))
    with pytest.raises(CommandError, match="limit 90s"):
        call_command("check_heartbeat", "beat")
