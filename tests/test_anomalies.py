"""Anomalies from the request log: detection per model and project, factors, /anomalies, the stat strip."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from django.test import Client

from spanlens.anomalies import services, tasks
from spanlens.anomalies.models import Anomaly, AnomalySnapshot
from spanlens.requestlog import insights, queries
from tests.seed import make_row

MODEL = "gpt-4o-mini-2024-07-18"
NOW = datetime.now(timezone.utc).replace(minute=30, second=0, microsecond=0)


def traffic(org, project, *, now=NOW, per_hour=10, spike=True, model=MODEL, seed=1):
    """8 days of ordinary calls; with spike, the last hour's calls are slow, long and
    mostly one user's."""
    rng = random.Random(seed)
    rows = []
    for ago in range(1, 192):
        for i in range(per_hour):
            rows.append(make_row(org, project, provider="openai", model=model, status_code=200, rng=rng,
                                 latency_ms=int(rng.gauss(500, 40)), prompt_tokens=400, completion_tokens=100,
                                 user_id=f"user-{i % 10}", cost_usd="0.00010000",
                                 created_at=now - timedelta(hours=ago, minutes=rng.uniform(0, 59))))
    for i in range(per_hour):
        slow = spike and i < per_hour - 2
        rows.append(make_row(org, project, provider="openai", model=model, status_code=200, rng=rng,
                             latency_ms=int(rng.gauss(3000, 100)) if slow else int(rng.gauss(500, 40)),
                             prompt_tokens=4000 if slow else 400, completion_tokens=100,
                             user_id="mallory" if slow else f"user-{i}", cost_usd="0.00010000",
                             created_at=now - timedelta(minutes=rng.uniform(1, 59))))
    queries.insert_requests(rows)
    return rows


@pytest.fixture
def spiked(org, project, django_capture_on_commit_callbacks, monkeypatch, settings):
    settings.ANOMALY_MIN_CALLS = 10
    opened = []
    monkeypatch.setattr(services, "on_anomaly_opened", lambda a: opened.append(a.id))
    traffic(org, project)
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.detect_for_organization(org.id, now=NOW)
    return {"counts": counts, "opened": opened}


def client_for(user):
    c = Client()
    c.force_login(user)
    return c


def test_a_latency_spike_opens_one_anomaly_per_scope_with_its_factors(org, project, spiked):
    latency = Anomaly.objects.filter(organization=org, metric="p95_latency_ms")
    scopes = {(a.scope_kind, a.scope_key) for a in latency}
    assert scopes == {("model", f"openai/{MODEL}"), ("project", str(project.id))}
    a = latency.get(scope_kind="model")
    assert a.direction == "up" and a.score >= 3 and a.value > 2500 and 400 < a.expected < 650
    assert a.baseline_hours == 168 and a.confidence == 1.0 and a.window_calls == 10
    kinds = {f["kind"]: f for f in a.factors}
    assert kinds["user"]["value"] == "mallory" and kinds["user"]["share"] == pytest.approx(0.8)
    assert kinds["tokens"]["field"] == "avg_prompt_tokens"
    assert len(a.chart) == 24 and a.chart[-1]["value"] == a.value and a.chart[-1]["high"] < a.value
    # The hook runs once per opened anomaly, after the commit.
    assert sorted(spiked["opened"]) == sorted(Anomaly.objects.filter(organization=org).values_list("id", flat=True))
    assert spiked["counts"]["opened"] == Anomaly.objects.filter(organization=org).count()


def test_running_again_for_the_same_time_changes_nothing(org, project, spiked):
    before = list(Anomaly.objects.filter(organization=org).values("id", "last_seen_at", "score"))
    counts = services.detect_for_organization(org.id, now=NOW)
    assert counts["opened"] == 0 and counts["resolved"] == 0
    assert list(Anomaly.objects.filter(organization=org).values("id", "last_seen_at", "score")) == before


def test_an_anomaly_resolves_when_its_hour_is_ordinary_again(org, project, spiked):
    later = NOW + timedelta(hours=2)
    counts = services.detect_for_organization(org.id, now=later)
    assert counts["resolved"] >= 2
    assert not Anomaly.objects.filter(organization=org, metric="p95_latency_ms", resolved_at__isnull=True).exists()


def test_quiet_traffic_opens_nothing(org, project):
    traffic(org, project, spike=False)
    counts = services.detect_for_organization(org.id, now=NOW)
    assert counts["opened"] == 0


def test_sampled_rows_weigh_by_their_inverse_rate(org, project):
    now = datetime.now(timezone.utc)
    queries.insert_requests([make_row(org, project, provider="openai", model=MODEL, status_code=200,
                                      sample_rate=0.2, cost_usd="0.01000000",
                                      created_at=now - timedelta(minutes=5 + i)) for i in range(5)])
    rows = insights.list_hourly_metrics(organization_id=str(org.id), now=now, hours=2)
    model_row = next(r for r in rows if r["kind"] == "model" and int(r["ago"]) == 0)
    assert int(model_row["rows"]) == 5 and float(model_row["calls"]) == pytest.approx(25)
    assert float(model_row["spend"]) == pytest.approx(0.25)


def test_open_anomalies_for_the_home_page(org, project, spiked, other_org_and_project):
    items = services.open_anomalies(organization_id=org.id, limit=2)
    assert len(items) == 2
    item = items[0]
    assert set(item) >= {"id", "url", "metric", "metric_label", "scope_label", "value_text", "expected_text",
                         "score", "confidence", "factors", "opened_at"}
    assert item["url"] == f"/anomalies/{item['id']}/"
    assert services.open_anomalies(organization_id=other_org_and_project[0].id) == []


def test_the_stat_strip_counts_active_anomalies(owner, org, project, spiked):
    active = services.count_active(org.id)
    assert active >= 2
    page = client_for(owner).get("/requests/").content.decode()
    cell = page.split('data-stat="anomalies"')[1].split("</div>\n    </div>")[0]
    assert f">{active}</a>" in cell and "hot" in page.split('data-stat="anomalies"')[0][-40:]


def test_the_page_shows_each_open_anomaly_against_its_band(owner, org, project, spiked):
    page = client_for(owner).get("/anomalies/").content.decode()
    a = Anomaly.objects.get(organization=org, metric="p95_latency_ms", scope_kind="model")
    assert f'data-anomaly-id="{a.id}"' in page
    assert 'class="band-chart"' in page and "<polygon class=\"band\"" in page
    assert "mallory" in page
    detail = client_for(owner).get(f"/anomalies/{a.id}/")
    assert detail.status_code == 200 and "Calls in the window" in detail.content.decode()


def test_acknowledging_hides_an_anomaly_with_its_note(owner, org, project, spiked):
    a = Anomaly.objects.get(organization=org, metric="p95_latency_ms", scope_kind="model")
    before = services.count_active(org.id)
    response = client_for(owner).post(f"/anomalies/{a.id}/acknowledge/", {"note": "deploy 42 rolled back"})
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.acknowledged_at and a.acknowledged_by == owner and a.note == "deploy 42 rolled back"
    assert services.count_active(org.id) == before - 1
    page = client_for(owner).get("/anomalies/").content.decode()
    open_part = page.split('id="recent-anomalies"')[0]
    assert f'data-anomaly-id="{a.id}"' not in open_part
    assert "acknowledged" in page.split('id="recent-anomalies"')[1]


def test_a_note_too_long_is_a_form_error(owner, org, project, spiked):
    a = Anomaly.objects.filter(organization=org).first()
    response = client_for(owner).post(f"/anomalies/{a.id}/acknowledge/", {"note": "x" * 2001})
    assert response.status_code == 400 and "data-form-error" in response.content.decode()
    a.refresh_from_db()
    assert a.acknowledged_at is None


def test_viewers_cannot_acknowledge(viewer, org, project, spiked):
    a = Anomaly.objects.filter(organization=org).first()
    assert client_for(viewer).get("/anomalies/").status_code == 200
    assert client_for(viewer).post(f"/anomalies/{a.id}/acknowledge/", {"note": "x"}).status_code == 403
    a.refresh_from_db()
    assert a.acknowledged_at is None


def test_outsiders_see_none_of_it(outsider, other_org_and_project, org, project, spiked):
    a = Anomaly.objects.filter(organization=org).first()
    c = client_for(outsider)
    page = c.get("/anomalies/").content.decode()
    assert str(a.id) not in page and MODEL not in page and "data-no-anomalies" in page
    assert c.get(f"/anomalies/{a.id}/").status_code == 404
    assert c.post(f"/anomalies/{a.id}/acknowledge/", {"note": "mine now"}).status_code == 404
    assert c.get("/anomalies/not-a-uuid/").status_code == 404
    a.refresh_from_db()
    assert a.acknowledged_at is None
    strip = c.get("/requests/").content.decode().split('data-stat="anomalies"')[1]
    assert ">0</a>" in strip.split("</div>")[1]


def test_anomalies_need_a_sign_in(client):
    response = client.get("/anomalies/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_daily_snapshots_make_the_history(owner, org, project, spiked):
    day = NOW.date()
    first = services.take_daily_snapshot(org.id, day)
    again = services.take_daily_snapshot(org.id, day)
    assert first.id == again.id and AnomalySnapshot.objects.filter(organization=org, day=day).count() == 1
    assert again.opened == Anomaly.objects.filter(organization=org).count()
    assert again.by_metric["p95_latency_ms"] == 2 and again.open_at_end == again.opened
    assert tasks.snapshot_anomalies() >= 1
    page = client_for(owner).get("/anomalies/").content.decode()
    assert f'data-day="{day.isoformat()}"' in page


def test_the_beat_task_runs_one_detector_per_organization(org, project, other_org_and_project, monkeypatch):
    seen = []
    monkeypatch.setattr(tasks.detect_organization_anomalies, "delay", lambda org_id: seen.append(org_id))
    assert tasks.detect_anomalies() >= 2
    assert str(org.id) in seen and str(other_org_and_project[0].id) in seen
    assert tasks.detect_organization_anomalies("7d5c2c1e-0000-4000-8000-000000000000") == {}


def test_factors_count_every_dimension_and_both_periods_as_the_rows_say(org, project):
    # One scan serves the token mix and all four dimensions: each must get its own figures.
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    keys = ["5b0c0b7e-0000-4000-8000-00000000000a", "5b0c0b7e-0000-4000-8000-00000000000b"]
    rows = []
    for i in range(60):
        in_window = i < 20
        rows.append(make_row(
            org, project, provider="openai", model="gpt-4o" if i % 3 else "gpt-4o-mini", status_code=200, rng=rng,
            prompt_tokens=100 * (i % 4 + 1), completion_tokens=10, user_id=f"user-{i % 5}" if i % 6 else None,
            api_key_id=keys[i % 2], sample_rate=0.5 if i % 10 == 0 else 1.0,
            created_at=now - (timedelta(minutes=5 + i) if in_window else timedelta(hours=2 + i))))
    queries.insert_requests(rows)
    raw = insights.get_anomaly_factors(
        organization_id=str(org.id), kind="project", key=str(project.id), window_start=now - timedelta(hours=1),
        window_end=now, baseline_start=now - timedelta(hours=169))

    def weight(r):
        return 1 / r["sample_rate"]

    window, base = rows[:20], rows[20:]
    for period, part in (("window", window), ("baseline", base)):
        got = raw["tokens"][period]
        calls = sum(weight(r) for r in part)
        assert float(got["calls"]) == pytest.approx(calls)
        assert float(got["avg_prompt_tokens"]) == pytest.approx(sum(r["prompt_tokens"] * weight(r) for r in part) / calls)

    def expected(value_of):
        totals: dict = {}
        for part, slot in ((window, 0), (base, 1)):
            for r in part:
                totals.setdefault(value_of(r), [0.0, 0.0])[slot] += weight(r)
        return sorted(totals.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:3]

    for dim, value_of in (("user", lambda r: r["user_id"] or ""), ("api_key", lambda r: r["api_key_id"]),
                          ("model", lambda r: f"openai/{r['model']}"), ("project", lambda r: str(project.id))):
        got = [(s["value"], [float(s["window_calls"]), float(s["baseline_calls"])]) for s in raw["shares"][dim]]
        assert got == [(v, pytest.approx(c)) for v, c in expected(value_of)], dim
