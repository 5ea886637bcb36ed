"""Alert rules: what each kind measures on a real chDB request log (sampled calls weighted
by 1 / sample_rate), the state machine with its cooldown and resolve, the four default
rules, alerts raised from outside, and tenants kept apart."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from django.utils import timezone as dj_timezone

from spanlens.alerts import conditions, evaluation, services
from spanlens.alerts.kinds import DEFAULT_RULES
from spanlens.alerts.models import AlertRule, Channel, Notification
from spanlens.core import services as core_services
from spanlens.core.models import RequestFallback
from spanlens.requestlog import queries
from tests.seed import make_row


def _rows(org, project, n, *, minutes_ago=1, **extra):
    now = datetime.now(timezone.utc)
    rows = [make_row(org, project, created_at=now - timedelta(minutes=minutes_ago, seconds=i % 50), **extra)
            for i in range(n)]
    queries.insert_requests(rows)
    return rows


def _rule(org, kind, **kwargs):
    kwargs.setdefault("name", f"{kind} rule")
    rule = services.save_rule(org, kind=kind, **kwargs)
    return AlertRule.objects.get(id=rule.id)


def _channel(org):
    return Channel.objects.get(organization=org, is_default=True)


def test_a_new_organization_starts_with_the_four_monitoring_rules_to_the_owners_email(org):
    rules = {r.name: r for r in AlertRule.objects.filter(organization=org)}
    assert sorted((r.kind, r.threshold, r.window_minutes) for r in rules.values()) == sorted(
        (d["kind"], d["threshold"], d["window_minutes"]) for d in DEFAULT_RULES)
    assert sorted(k for k, *_ in [(r.kind,) for r in rules.values()]) == [
        "fallback_queue", "proxy_overhead_p95", "server_error_rate", "truncated_streams"]
    channel = _channel(org)
    assert channel.kind == "email" and channel.email_owners
    assert all(list(r.channels.all()) == [channel] and r.is_enabled for r in rules.values())


def test_spend_weights_sampled_calls_by_their_sample_rate(org, project):
    # 20 calls kept at a 10 % sample rate stand for 200; the error kept whatever the rate counts once.
    _rows(org, project, 20, cost_usd="0.01000000", sample_rate=0.1, status_code=200)
    _rows(org, project, 1, cost_usd="0.05000000", sample_rate=1.0, status_code=500)
    rule = _rule(org, "spend", threshold="2", window_minutes="60")
    reading = conditions.spend(rule)
    assert reading.value == pytest.approx(20 * 0.01 / 0.1 + 0.05)
    assert reading.breached and "≈ estimated from sampled calls" in reading.detail
    assert ["Calls", "≈201"] in reading.fields


def test_spend_can_watch_one_project_user_or_api_key(org, project):
    other = core_services.create_project(org, "Batch jobs")
    key = core_services.create_api_key(project, "web").api_key
    _rows(org, project, 4, cost_usd="1.00000000", user_id="cust-1", api_key_id=str(key.id))
    _rows(org, project, 2, cost_usd="1.00000000", user_id="cust-2")
    _rows(org, other, 8, cost_usd="1.00000000", user_id="cust-1")
    assert conditions.spend(_rule(org, "spend", threshold="1", window_minutes="60")).value == pytest.approx(14)
    assert conditions.spend(_rule(org, "spend", name="p", threshold="1", window_minutes="60",
                                  project_id=str(project.id))).value == pytest.approx(6)
    assert conditions.spend(_rule(org, "spend", name="u", threshold="1", window_minutes="60",
                                  end_user="cust-1")).value == pytest.approx(12)
    assert conditions.spend(_rule(org, "spend", name="k", threshold="1", window_minutes="60",
                                  api_key_id=str(key.id))).value == pytest.approx(4)


def test_p95_latency_is_the_weighted_quantile(org, project):
    # 200 fast unsampled calls, and 5 slow ones kept at 10 %: they stand for 50 of 250.
    _rows(org, project, 200, latency_ms=100, status_code=200)
    _rows(org, project, 5, latency_ms=9000, sample_rate=0.1, status_code=200)
    values = np.repeat([100, 9000], [200, 50])
    expected = np.percentile(values, 95, method="inverted_cdf")
    reading = conditions.p95_latency(_rule(org, "p95_latency", threshold="5000", window_minutes="15"))
    assert reading.value == expected == 9000
    assert reading.breached
    # Unweighted, the slow calls would be 2.4 % of the sample and hide below the p95.
    assert np.percentile(np.repeat([100, 9000], [200, 5]), 95, method="inverted_cdf") == 100


def test_rates_need_enough_calls_to_judge(org, project):
    _rows(org, project, 3, status_code=500)
    rule = _rule(org, "error_rate", threshold="5", window_minutes="15", min_requests="10")
    reading = conditions.error_rate(rule)
    assert reading.value is None and not reading.breached and "fewer than the 10" in reading.detail
    _rows(org, project, 17, status_code=200, error_message="")
    reading = conditions.error_rate(rule)
    assert reading.value == pytest.approx(15.0) and reading.breached


def test_the_default_rules_fire_on_what_the_scaling_guide_watches(org, project):
    _rows(org, project, 97, status_code=200, error_message="", proxy_overhead_ms=120, stream=True)
    _rows(org, project, 3, status_code=503, proxy_overhead_ms=120, stream=True, truncated=True)
    outcomes = evaluation.evaluate_organization(str(org.id))
    by_kind = {r.kind: outcomes[str(r.id)] for r in AlertRule.objects.filter(organization=org)}
    assert by_kind == {"proxy_overhead_p95": "fired", "server_error_rate": "fired",
                       "truncated_streams": "ok", "fallback_queue": "ok"}
    fired = Notification.objects.filter(organization=org, event="firing")
    assert {n.kind for n in fired} == {"proxy_overhead_p95", "server_error_rate"}
    five = fired.get(kind="server_error_rate")
    assert five.value == pytest.approx(3.0) and five.threshold == 1.0
    assert five.fields[0] == ["Condition", "> 1 % over 5 min"]
    assert [d.channel for d in five.deliveries.all()] == [_channel(org)]


def test_truncated_streams_count_among_streaming_calls_only(org, project):
    _rows(org, project, 30, stream=False, status_code=200)
    _rows(org, project, 18, stream=True, status_code=200)
    _rows(org, project, 2, stream=True, truncated=True, status_code=200)
    reading = conditions.truncated_streams(_rule(org, "truncated_streams", threshold="5", window_minutes="60"))
    assert reading.value == pytest.approx(10.0) and reading.breached


def test_the_fallback_queue_must_stay_over_its_threshold_for_the_window(org, other_org_and_project):
    other_org, _ = other_org_and_project
    RequestFallback.objects.bulk_create([RequestFallback(row={"organization_id": str(org.id)}) for _ in range(3)]
                                        + [RequestFallback(row={"organization_id": str(other_org.id)})
                                           for _ in range(9)])
    rule = _rule(org, "fallback_queue", threshold="2", window_minutes="30")
    assert evaluation.evaluate_rule(str(rule.id)) == "pending"
    rule.refresh_from_db()
    assert rule.state == "pending" and rule.last_value == 3
    AlertRule.objects.filter(id=rule.id).update(breach_since=dj_timezone.now() - timedelta(minutes=31))
    assert evaluation.evaluate_rule(str(rule.id)) == "fired"
    RequestFallback.objects.filter(row__organization_id=str(org.id)).delete()
    assert evaluation.evaluate_rule(str(rule.id)) == "resolved"


def test_cooldown_holds_a_refiring_rule_and_resolve_follows_an_announced_firing(org, monkeypatch):
    counts = iter([2, 3, 0, 1, 0, 1, 1])
    monkeypatch.setattr(conditions, "open_anomaly_count", lambda organization_id: next(counts))
    rule = _rule(org, "anomaly", threshold="0", cooldown_minutes="60", channel_ids=[str(_channel(org).id)])

    def step():
        return evaluation.evaluate_rule(str(rule.id))

    assert step() == "fired"      # 2 open anomalies
    assert step() == "firing"     # 3: still firing, nothing new sent
    assert step() == "resolved"   # 0: the resolve notification
    assert step() == "held"       # 1 again within the cooldown: state firing, nobody told
    rule.refresh_from_db()
    assert rule.state == "firing" and not rule.notified
    assert step() == "resolved"   # cleared before it was announced: no resolve either
    assert step() == "held"
    AlertRule.objects.filter(id=rule.id).update(last_fired_at=dj_timezone.now() - timedelta(minutes=61))
    assert step() == "fired"      # cooldown over and still breached: announced now
    events = list(Notification.objects.filter(rule=rule).order_by("created_at").values_list("event", flat=True))
    assert events == ["firing", "resolved", "firing"]
    resolved = Notification.objects.get(rule=rule, event="resolved")
    assert resolved.text.startswith("Back within the rule (> 0 )") or "Back within the rule" in resolved.text


def test_data_silence_names_projects_that_went_quiet_after_a_week_of_daily_calls(org, project):
    quiet = project
    busy = core_services.create_project(org, "Chatbot")
    young = core_services.create_project(org, "New app")
    now = datetime.now(timezone.utc)
    rows = [make_row(org, quiet, created_at=now - timedelta(hours=24 * p + 2)) for p in range(1, 8)]
    rows += [make_row(org, busy, created_at=now - timedelta(hours=24 * p + 2)) for p in range(0, 8)]
    rows += [make_row(org, young, created_at=now - timedelta(hours=24 * p + 2)) for p in range(1, 4)]
    queries.insert_requests(rows)
    reading = conditions.data_silence(_rule(org, "data_silence"))
    assert reading.breached and reading.value == 1
    assert quiet.name in reading.detail and "Chatbot" not in reading.detail and "New app" not in reading.detail


def test_unpriced_models_name_the_models(org, project):
    _rows(org, project, 2, provider="openai", model="acme-private-llm", cost_usd=None, cost_source="unknown")
    _rows(org, project, 5)
    reading = conditions.unpriced_models(_rule(org, "unpriced_models", threshold="0", window_minutes="60"))
    assert reading.value == 2 and reading.breached and "openai/acme-private-llm" in reading.detail


def test_eval_score_below_the_threshold_fires(org):
    from evals.models import EvalRun, Evaluator

    evaluator = Evaluator.objects.create(organization=org, name="Relevance", type="exact_match", config={})
    rule = _rule(org, "eval_score", threshold="0.7", evaluator_id=str(evaluator.id))
    assert conditions.eval_score(rule).value is None
    EvalRun.objects.create(organization=org, evaluator=evaluator, source="dataset", sample_size=10, seed=1,
                           status="completed", avg_score=0.55, total=10, finished_at=dj_timezone.now())
    reading = conditions.eval_score(rule)
    assert reading.value == pytest.approx(0.55) and reading.breached and "Relevance scored 0.55" in reading.detail


def test_a_rule_reads_only_its_own_organizations_calls(org, project, other_org_and_project):
    other_org, other_project = other_org_and_project
    _rows(other_org, other_project, 50, cost_usd="10.00000000", status_code=500, proxy_overhead_ms=500)
    rule = _rule(org, "spend", threshold="1", window_minutes="60")
    assert conditions.spend(rule).value == 0
    outcomes = evaluation.evaluate_organization(str(org.id))
    assert set(outcomes.values()) == {"ok"}
    assert not Notification.objects.filter(organization=org).exists()
    # An id from another organization cannot be used to scope a rule.
    with pytest.raises(services.AlertError) as exc:
        services.save_rule(org, name="x", kind="spend", threshold="1", window_minutes="60",
                           project_id=str(other_project.id))
    assert exc.value.field == "project"
    other_channel = Channel.objects.get(organization=other_org, is_default=True)
    with pytest.raises(services.AlertError) as exc:
        services.save_rule(org, name="y", kind="spend", threshold="1", window_minutes="60",
                           channel_ids=[str(other_channel.id)])
    assert exc.value.field == "channels"


def test_a_request_log_outage_is_shown_on_the_rule_and_keeps_its_state(org, monkeypatch):
    from spanlens.requestlog import alert_queries
    from spanlens.requestlog.engine import ClickHouseUnavailable

    def down(**kwargs):
        raise ClickHouseUnavailable("Connection refused")

    monkeypatch.setattr(alert_queries, "get_alert_window", down)
    rule = AlertRule.objects.get(organization=org, kind="server_error_rate")
    assert evaluation.evaluate_rule(str(rule.id)) == "error"
    rule.refresh_from_db()
    assert rule.state == "ok" and "Connection refused" in rule.last_error


def test_rule_input_is_checked_field_by_field(org):
    cases = [
        ({"kind": "nope"}, "kind"),
        ({"kind": "spend", "threshold": ""}, "threshold"),
        ({"kind": "spend", "threshold": "abc"}, "threshold"),
        ({"kind": "error_rate", "threshold": "150", "window_minutes": "5"}, "threshold"),
        ({"kind": "spend", "threshold": "5", "window_minutes": "0"}, "window_minutes"),
        ({"kind": "spend", "threshold": "5", "window_minutes": "1.5"}, "window_minutes"),
        ({"kind": "spend", "threshold": "5", "window_minutes": "60", "cooldown_minutes": "-1"}, "cooldown_minutes"),
        ({"kind": "eval_score", "threshold": "0.5"}, "evaluator"),
        ({"kind": "spend", "threshold": "5", "window_minutes": "60", "project_id": "not-a-uuid"}, "project"),
    ]
    for data, field in cases:
        with pytest.raises(services.AlertError) as exc:
            services.save_rule(org, name="Checked", **data)
        assert exc.value.field == field, data
    with pytest.raises(services.AlertError) as exc:
        services.save_rule(org, name="5xx rate over 1 %", kind="spend", threshold="1", window_minutes="60")
    assert exc.value.field == "name"


# --- alerts raised from outside the rules ------------------------------------------------------

def test_fire_external_goes_to_the_default_channel_with_a_cooldown_by_key(org):
    first = services.fire_external(org.id, "budget", "Budget 80 % reached", "cust-1 spent $8 of $10 today",
                                   "budget:user:cust-1:80")
    assert first is not None and first.event == "alert"
    assert [d.channel for d in first.deliveries.all()] == [_channel(org)]
    assert services.fire_external(org.id, "budget", "again", "", "budget:user:cust-1:80") is None
    assert services.fire_external(org.id, "budget", "Budget 100 % reached", "", "budget:user:cust-1:100")
    from spanlens.alerts.models import AlertKey

    AlertKey.objects.filter(key="budget:user:cust-1:80").update(
        last_fired_at=dj_timezone.now() - timedelta(minutes=61))
    assert services.fire_external(org.id, "budget", "Budget 80 % reached", "", "budget:user:cust-1:80")


def test_fire_external_uses_the_channels_of_rules_of_its_kind(org):
    slack, _ = services.create_channel(org, kind="slack", name="#budgets", url="http://127.0.0.1:9/hook")
    services.save_rule(org, name="Budgets", kind="budget", channel_ids=[str(slack.id)])
    n = services.fire_external(org.id, "budget", "Budget reached", "", "k1")
    assert [d.channel for d in n.deliveries.all()] == [slack]
    assert n.rule.name == "Budgets"


def test_notify_anomaly_reaches_only_anomaly_rules(org):
    class Anomaly:
        id = "a1"
        organization_id = org.id
        title = "p95 latency of gpt-4o 4.1σ above its baseline"

    assert services.notify_anomaly(Anomaly()).deliveries.count() == 0  # no anomaly rule: nobody
    hook, _ = services.create_channel(org, kind="discord", name="Discord", url="http://127.0.0.1:9/hook")
    services.save_rule(org, name="Anomalies", kind="anomaly", threshold="0", channel_ids=[str(hook.id)])
    Anomaly.id = "a2"
    n = services.notify_anomaly(Anomaly())
    assert [d.channel for d in n.deliveries.all()] == [hook] and n.title.startswith("p95 latency")
    assert services.notify_anomaly(Anomaly()) is None  # the same anomaly once
    assert services.notify_anomaly("7d0c2b7e-4c1e-4c55-9d59-0e3bb0a4f0a1") is None  # nothing to look up yet


def test_recent_deliveries_are_the_organizations_newest(org, other_org_and_project):
    other_org, _ = other_org_and_project
    services.fire_external(other_org.id, "budget", "theirs", "", "k")
    for i in range(7):
        services.fire_external(org.id, "budget", f"ours {i}", "", f"k{i}")
    recent = services.recent_deliveries(organization_id=org.id)
    assert [r["title"] for r in recent] == [f"ours {i}" for i in (6, 5, 4, 3, 2)]
    assert recent[0]["status"] == "pending" and recent[0]["channel"] == "Owners' email"


def test_the_weighted_quantile_matches_numpy_on_random_samples():
    from spanlens.alerts.stats import weighted_quantile

    rng = np.random.default_rng(7)
    for _ in range(200):
        values = np.sort(rng.choice(np.arange(1, 400), size=rng.integers(1, 60), replace=False)).astype(float)
        weights = rng.choice([1, 2, 4, 10, 100], size=len(values))
        for q in (0.5, 0.95, 0.99):
            expected = np.percentile(np.repeat(values, weights), q * 100, method="inverted_cdf")
            assert weighted_quantile(list(zip(values, weights.astype(float))), q) == expected
    assert weighted_quantile([], 0.95) is None


@pytest.fixture
def eager_tasks():
    from spanlens.celery_app import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_the_beat_tasks_fan_out_per_organization_and_send_what_is_due(org, project, other_org_and_project,
                                                                      eager_tasks):
    from spanlens.alerts import tasks
    from spanlens.alerts.models import Delivery

    _rows(org, project, 40, status_code=502, proxy_overhead_ms=3)
    assert tasks.evaluate_alerts() == 2  # both organizations have enabled rules
    rule = AlertRule.objects.get(organization=org, kind="server_error_rate")
    assert rule.state == "firing" and rule.last_value == pytest.approx(100.0)
    other_rule = AlertRule.objects.get(organization=other_org_and_project[0], kind="server_error_rate")
    assert other_rule.state == "ok" and other_rule.last_evaluated_at is not None
    # The firing's email is due (its own task was never sent: no commit in this test); beat sends it.
    d = Delivery.objects.get(notification__rule=rule)
    Delivery.objects.filter(id=d.id).update(created_at=dj_timezone.now() - timedelta(minutes=2))
    assert tasks.retry_due_deliveries() == 1
    d.refresh_from_db()
    assert d.status == "dead" and "email is not configured" in d.last_error
