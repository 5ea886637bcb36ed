"""Budget windows and counters without the proxy: UTC day and month boundaries, Retry-After,
estimates settled to the cost, and admission that stays exact under concurrency, in
process and in Redis."""
from __future__ import annotations

import asyncio
import os
import threading
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from spanlens.budgets import counters, enforce, periods
from spanlens.budgets.rules import Rule, to_units

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Settling reads the price table (the same engine as the dashboard).
pytestmark = pytest.mark.django_db


def redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except Exception:
        pytest.skip("needs Redis (make test)")
    return counters.RedisCounters(REDIS)


@pytest.fixture(params=["local", "redis"])
def backend(request, monkeypatch):
    store = counters.LocalCounters() if request.param == "local" else redis_or_skip()
    monkeypatch.setattr(counters, "_counters", store)
    return store


def rule(metric: str, limit: int, **kw) -> Rule:
    return Rule(str(uuid.uuid4()), str(uuid.uuid4()), metric, limit, kw.pop("scope", "project"),
                label=kw.pop("label", "project Web"), **kw)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def admit(rules, user="", monkeypatch=None):
    return asyncio.run(enforce.admit(tuple(rules), user, "openai", "gpt-4o-mini", 0, None))


def spend(rules, usd: str, user: str = ""):
    refused, hold = admit(rules, user)
    assert refused is None
    enforce.settle(hold, Decimal(usd))


def test_a_daily_budget_refuses_until_utc_midnight_then_starts_again(backend, monkeypatch):
    daily = rule("usd_day", to_units(Decimal(1)))
    monkeypatch.setattr(enforce, "clock", lambda: at("2026-03-31T23:59:30"))
    spend([daily], "0.60")
    spend([daily], "0.50")  # admitted below the limit; its cost takes the day over
    refused, _ = admit([daily])
    assert refused.retry_after == 30
    assert "project Web has used its $1.00 daily budget" in refused.message
    assert "in 30 s" in refused.message

    monkeypatch.setattr(enforce, "clock", lambda: at("2026-04-01T00:00:01"))
    assert admit([daily])[0] is None
    assert enforce.current_value(daily) == 0


def test_a_monthly_budget_holds_across_days_and_resets_on_the_first(backend, monkeypatch):
    monthly = rule("usd_month", to_units(Decimal(5)))
    monkeypatch.setattr(enforce, "clock", lambda: at("2026-02-03T10:00:00"))
    spend([monthly], "5")
    monkeypatch.setattr(enforce, "clock", lambda: at("2026-02-27T22:00:00"))
    refused, _ = admit([monthly])
    assert refused.retry_after == 26 * 3600  # to 2026-03-01 00:00 UTC
    assert "at Mar 1 00:00 UTC (in 1 day 2 h)" in refused.message
    monkeypatch.setattr(enforce, "clock", lambda: at("2026-03-01T00:00:00"))
    assert admit([monthly])[0] is None


def test_requests_per_minute_count_in_the_utc_minute(backend, monkeypatch):
    rpm = rule("rpm", 2, scope="api_key", label="API key ci")
    monkeypatch.setattr(enforce, "clock", lambda: at("2026-05-05T12:00:59.250"))
    assert admit([rpm])[0] is None
    assert admit([rpm])[0] is None
    refused, hold = admit([rpm])
    assert hold is None
    assert refused.retry_after == 1
    assert "API key ci may send 2 requests per minute" in refused.message
    monkeypatch.setattr(enforce, "clock", lambda: at("2026-05-05T12:01:00"))
    assert admit([rpm])[0] is None


def test_a_refused_call_counts_on_no_budget(backend, monkeypatch):
    rpm = rule("rpm", 1)
    daily = rule("usd_day", to_units(Decimal(1)))
    monkeypatch.setattr(enforce, "clock", lambda: at("2026-05-05T12:00:00"))
    assert admit([rpm, daily])[0] is None
    assert admit([rpm, daily])[0] is not None
    assert enforce.current_value(rpm) == 1


def test_user_budgets_apply_to_their_user_or_to_each_user(backend, monkeypatch):
    alice = rule("usd_day", to_units(Decimal("0.10")), scope="user", user_id="alice")
    each = rule("usd_day", to_units(Decimal("0.50")), scope="user")
    monkeypatch.setattr(enforce, "clock", lambda: at("2026-05-05T12:00:00"))
    spend([alice, each], "0.20", user="alice")
    assert "user alice" in admit([alice, each], "alice")[0].message
    assert admit([alice, each], "bob")[0] is None
    assert admit([alice, each], "")[0] is None  # no user header: user budgets do not apply
    spend([alice, each], "0.60", user="bob")
    assert "user bob" in admit([alice, each], "bob")[0].message
    assert enforce.current_value(each, "bob") == to_units(Decimal("0.60"))


def test_the_estimate_is_replaced_by_the_cost(backend, monkeypatch):
    daily = rule("usd_day", to_units(Decimal(1)))
    monkeypatch.setitem(enforce._rates, ("openai", "gpt-4o-mini"), (15.0, 60.0))
    refused, hold = asyncio.run(enforce.admit((daily,), "", "openai", "gpt-4o-mini", 4000, {"max_tokens": 500}))
    assert hold[0] == 4000 * 0.25 * 15 + 500 * 60
    assert enforce.current_value(daily) == hold[0]
    enforce.settle(hold, Decimal("0.00012"))
    assert enforce.current_value(daily) == to_units(Decimal("0.00012"))
    # A call that failed upstream costs nothing: its estimate is handed back.
    _, hold = asyncio.run(enforce.admit((daily,), "", "openai", "gpt-4o-mini", 4000, None))
    enforce.settle(hold, None)
    assert enforce.current_value(daily) == to_units(Decimal("0.00012"))


def test_alerts_fire_once_per_window_at_80_and_100_percent(backend, monkeypatch):
    fired = []
    monkeypatch.setattr(enforce.notify, "threshold_crossed", lambda b, p, **kw: fired.append(p))
    daily = rule("usd_day", to_units(Decimal(1)))
    monkeypatch.setattr(enforce, "clock", lambda: at("2026-05-05T12:00:00"))
    spend([daily], "0.70")
    assert fired == []
    spend([daily], "0.15")
    spend([daily], "0.01")
    assert fired == [80]
    spend([daily], "0.20")
    assert fired == [80, 100]


def test_admission_is_exact_under_concurrency(backend):
    rpm = rule("rpm", 100)
    key = enforce.counter_key(rpm, "", periods.window("rpm", enforce.clock())[0])
    admitted = []
    lock = threading.Lock()

    def worker():
        for _ in range(40):
            if backend.admit_now([(key, 100, 120, 1)]) == 0:
                with lock:
                    admitted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 100


def test_redis_away_lets_calls_through(monkeypatch):
    away = counters.RedisCounters("redis://127.0.0.1:9/0")
    monkeypatch.setattr(counters, "_counters", away)
    assert admit([rule("rpm", 1)])[0] is None
    assert admit([rule("rpm", 1)])[0] is None


def test_periods_name_their_windows():
    now = at("2026-12-31T23:59:59")
    assert periods.window("usd_day", now)[0] == "d20261231"
    assert periods.window("usd_month", now)[0] == "m202612"
    assert periods.window("usd_month", now)[2] == at("2027-01-01T00:00:00")
    assert periods.when(at("2027-01-01T00:00:00"), at("2026-12-31T20:00:00")) == "at 00:00 UTC (in 4 h 0 min)"
