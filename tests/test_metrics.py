"""/metrics: Prometheus text behind METRICS_TOKEN, with proxied calls by provider and
status, the overhead histogram, the log writer, the backlogs and Celery's queue depth."""
import os

import httpx
import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from tests.mock_upstream import REPLY

TOKEN = "metrics-token-for-tests"


def scrape(server, token=TOKEN):
    return httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})


def samples(text: str) -> dict:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setattr(settings, "METRICS_TOKEN", TOKEN)


def test_it_is_off_without_a_token_and_refuses_a_wrong_one(live_db, spanlens_server, monkeypatch):
    monkeypatch.setattr(settings, "METRICS_TOKEN", None)
    off = scrape(spanlens_server)
    assert off.status_code == 404 and "METRICS_TOKEN" in off.json()["error"]
    monkeypatch.setattr(settings, "METRICS_TOKEN", TOKEN)
    assert scrape(spanlens_server, token="wrong").status_code == 401
    assert scrape(spanlens_server, token=None).status_code == 401


def test_proxied_calls_and_the_log_writer_show_up(
    live_db, token, upstream, provider_keys, openai_client, org, read_rows, spanlens_server, monkeypatch
):
    monkeypatch.setattr(settings, "CELERY_BROKER_URL", "memory://localhost/")
    before = samples(scrape(spanlens_server).text)
    key_200 = ("spanlens_proxied_calls_total", (("provider", "openai"), ("status", "200")))
    key_429 = ("spanlens_proxied_calls_total", (("provider", "openai"), ("status", "429")))

    reply = openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == REPLY
    with pytest.raises(Exception):
        openai_client.chat.completions.create(model="gpt-4o-mini+error-429", messages=[{"role": "user", "content": "hi"}])
    read_rows(org.id, expect=2)

    response = scrape(spanlens_server)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)
    assert after[key_200] - before.get(key_200, 0) == 1
    assert after[key_429] - before.get(key_429, 0) == 1
    overhead = ("spanlens_proxy_overhead_seconds_count", (("provider", "openai"),))
    assert after[overhead] - before.get(overhead, 0) == 2
    assert after[("spanlens_log_writer_alive", ())] == 1
    assert after[("spanlens_log_rows_written_total", ())] - before.get(("spanlens_log_rows_written_total", ()), 0) >= 2
    assert after[("spanlens_log_fallback_rows", ())] == 0
    assert ("spanlens_log_writer_pending_rows", ()) in after
    # The in-process worker's memory broker has no queue to measure.
    assert not any(name == "spanlens_celery_queue_depth" for name, _ in after)
    assert provider_keys["openai"].name not in response.text


def test_celery_queue_depth_is_read_from_redis(live_db, token, spanlens_server, monkeypatch):
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("needs the real Redis (make test)")
    queue = "spanlens-metrics-test"
    client.delete(queue)
    client.rpush(queue, "a", "b", "c")
    monkeypatch.setattr(settings, "CELERY_BROKER_URL", url)
    monkeypatch.setattr(settings, "CELERY_TASK_DEFAULT_QUEUE", queue)
    try:
        found = samples(scrape(spanlens_server).text)
    finally:
        client.delete(queue)
    assert found[("spanlens_celery_queue_depth", (("queue", queue),))] == 3


def test_the_sample_grafana_dashboard_only_queries_metrics_we_export():
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(settings.BASE_DIR) / "docs" / "grafana-dashboard.json").read_text())
    exported = {"spanlens_proxied_calls_total", "spanlens_proxy_overhead_seconds_bucket",
                "spanlens_log_rows_written_total", "spanlens_log_rows_to_fallback_total",
                "spanlens_log_rows_dropped_total", "spanlens_log_fallback_rows", "spanlens_log_writer_pending_rows",
                "spanlens_log_spool_bytes", "spanlens_log_writer_alive", "spanlens_celery_queue_depth"}
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"spanlens_[a-z_]+", target["expr"])}
    assert used == exported
