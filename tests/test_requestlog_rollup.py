"""The hourly rollup (requests_hourly): what it answers equals the same aggregate of the stored
rows, for ranges that start and end anywhere (inside an hour, on its first or last millisecond),
with filters it covers and ones it does not, and it counts rows stored before it existed once."""
from __future__ import annotations

import io
import math
import random
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import call_command

from spanlens.core import services
from spanlens.requestlog import backup, insights, migrate, overview, queries, rollup, sessions
from spanlens.requestlog.engine import get_engine
from tests.seed import make_row

HOUR = timedelta(hours=1)
MS = timedelta(milliseconds=1)


def _at(row) -> datetime:
    return datetime.strptime(row["created_at"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)


def _weight(rate: float) -> float:
    stored = float(np.float32(rate))  # the column is Float32, as the weight expression rounds back
    return round(1.0 / stored, 4) if 0 < stored <= 1 else 1.0


@pytest.fixture
def log(org, project, other_org_and_project):
    """Rows in 31 hours up to now, four an hour: on the hour's first millisecond, its second,
    somewhere inside, and its last; every kind the rollup keeps apart (two projects and
    models, errors of each kind, unpriced, cache hits, sampled rows)."""
    second = services.create_project(org, "Second")
    now = datetime.now(timezone.utc)
    top = now.replace(minute=0, second=0, microsecond=0)
    rng = random.Random(11)
    rows = []
    for h in range(-30, 1):
        start = top + h * HOUR
        inside = start + timedelta(minutes=rng.randint(0, 59), seconds=rng.randint(0, 59), milliseconds=rng.randint(1, 998))
        for at in (start, start + MS, inside, start + HOUR - MS):
            if at > now - timedelta(seconds=2):
                continue
            status = rng.choice([200, 200, 200, 429, 500, 0])
            rows.append(make_row(
                org, rng.choice([project, second]), rng=rng, created_at=at, status_code=status,
                provider="openai", model=rng.choice(["gpt-4o-mini", "gpt-4o"]),
                sample_rate=1.0 if status != 200 else rng.choice([1.0, 1.0, 0.5, 0.1]),
                cost_source=rng.choice(["list", "list", "unknown"]), cache_hit=rng.random() < 0.2,
                user_id=rng.choice([None, "", "alice", "bob", "carol", "dave"]),
                session_id=rng.choice([None, "", "chat-a", "chat-b", "chat-c", "task-d", "task-e"]),
                origin=rng.choice(["", "", "", "eval"]),
                error_message="stream cut" if status == 200 and rng.random() < 0.2 else ("" if status == 200 else "failed"),
            ))
            if rng.random() < 0.15:
                rows[-1]["cost_usd"] = None
            if rng.random() < 0.3:  # read from or written to the provider's prompt cache
                rows[-1].update(cache_read_tokens=rng.randint(0, 900), cache_write_tokens=rng.randint(0, 300))
            if rng.random() < 0.15:
                rows[-1]["response_body"] = ""  # not stored (LOG_BODIES, a privacy rule)
    other_org, other_project = other_org_and_project
    theirs = [make_row(other_org, other_project, rng=rng, created_at=top - 3 * HOUR + i * MS) for i in range(20)]
    queries.insert_requests(rows + theirs)
    return {"rows": rows, "now": now, "top": top, "second": second}


def _truth(rows, since=None, until=None, keep=lambda r: True) -> dict:
    chosen = [r for r in rows if (since is None or _at(r) >= since) and (until is None or _at(r) <= until) and keep(r)]
    return {
        "rows": len(chosen),
        "calls": sum(_weight(r["sample_rate"]) for r in chosen),
        "cost": float(sum(Decimal(r["cost_usd"] or "0") for r in chosen)),
        "tokens": sum(r["total_tokens"] for r in chosen),
        "first": min((_at(r) for r in chosen), default=None),
        "last": max((_at(r) for r in chosen), default=None),
    }


def _read(org, of=rollup.HOURLY, **filters) -> dict:
    source, params = rollup.hours(organization_id=str(org.id), of=of, **filters)
    # The users' rollup keeps weighted spend and tokens only; the rows here all weigh 1 there.
    cost, tokens = ("toFloat64(sum(cost_sum))", "sum(tokens_sum)") if of is rollup.HOURLY else ("sum(cost_w)", "sum(tokens_w)")
    [row] = get_engine().select(
        f"SELECT sum(rows) AS rows, sum(calls) AS calls, {cost} AS cost, "
        f"{tokens} AS tokens, min(first_seen) AS first, max(last_seen) AS last FROM ({source})",
        params,
    )
    def when(v):
        return None if not int(row["rows"]) else datetime.strptime(str(v)[:23], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return {"rows": int(row["rows"]), "calls": float(row["calls"]), "cost": float(row["cost"]),
            "tokens": round(float(row["tokens"])), "first": when(row["first"]), "last": when(row["last"])}


def _ranges(top: datetime):
    rng = random.Random(3)
    yield None, None
    yield top - 12 * HOUR, None  # whole hours, open end
    yield None, top - 5 * HOUR - MS  # up to an hour's last millisecond
    yield top - 20 * HOUR, top - 2 * HOUR  # both on the hour: the end hour's first row is in
    yield top - 7 * HOUR + MS, top - 7 * HOUR + 30 * timedelta(minutes=1)  # inside one hour
    yield top - 9 * HOUR - MS, top - 8 * HOUR  # one millisecond either side of a whole hour
    for _ in range(25):
        a = top - timedelta(milliseconds=rng.randint(0, 31 * 3600 * 1000))
        b = a + timedelta(milliseconds=rng.randint(0, 12 * 3600 * 1000))
        yield a, b


@pytest.mark.parametrize("from_rollup", [True, False], ids=["rollup", "rows only"])
def test_any_range_counts_every_row_once(org, log, from_rollup, monkeypatch):
    monkeypatch.setattr(rollup, "enabled", from_rollup)
    for since, until in _ranges(log["top"]):
        got, want = _read(org, since=since, until=until), _truth(log["rows"], since, until)
        assert got["rows"] == want["rows"], (since, until)
        assert got["calls"] == pytest.approx(want["calls"]) and got["cost"] == pytest.approx(want["cost"])
        assert got["tokens"] == want["tokens"] and (got["first"], got["last"]) == (want["first"], want["last"])


def test_the_users_rollup_counts_every_row_once(org, log):
    unsampled = [r for r in log["rows"] if r["sample_rate"] == 1.0]
    for since, until in _ranges(log["top"]):
        got = _read(org, of=rollup.USERS, since=since, until=until)
        want = _truth(log["rows"], since, until)
        assert (got["rows"], got["first"], got["last"]) == (want["rows"], want["first"], want["last"]), (since, until)
        assert got["calls"] == pytest.approx(want["calls"])
    got = _read(org, of=rollup.USERS, search="failed")  # not covered: summed from the rows
    want = _truth(unsampled, keep=lambda r: r["error_message"] == "failed")
    assert (got["rows"], got["tokens"]) == (want["rows"], want["tokens"]) and got["cost"] == pytest.approx(want["cost"])


def test_filters_the_rollup_covers_and_ones_it_does_not(org, project, log):
    since, until = log["top"] - 17 * HOUR + 1234 * MS, log["top"] - HOUR - 99 * MS
    cases = [
        ({"project_id": str(project.id)}, lambda r: r["project_id"] == str(project.id)),
        ({"model": "4o-MINI"}, lambda r: r["model"] == "gpt-4o-mini"),
        ({"status": "5xx"}, lambda r: 500 <= r["status_code"] < 600),
        ({"cache_hit": True}, lambda r: r["cache_hit"]),
        ({"search": "stream cut"}, lambda r: r["error_message"] == "stream cut"),  # read from the rows
    ]
    for filters, keep in cases:
        assert rollup.covers(filters) == ("search" not in filters)
        got, want = _read(org, since=since, until=until, **filters), _truth(log["rows"], since, until, keep)
        assert (got["rows"], got["tokens"]) == (want["rows"], want["tokens"]), filters
        assert got["calls"] == pytest.approx(want["calls"])


def _same(a, b, path="result"):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert (math.isnan(float(a)) and math.isnan(float(b))) or float(a) == pytest.approx(float(b), rel=1e-9), path
    else:
        assert str(a)[:19] == str(b)[:19], path  # an hour as DateTime or DateTime64


def test_every_dashboard_read_answers_the_same_from_the_rollup_and_from_the_rows(org, project, log, monkeypatch):
    top, org_id = log["top"], str(org.id)
    reads = [
        lambda: queries.get_request_stats(organization_id=org_id),
        lambda: queries.get_request_stats(organization_id=org_id, project_id=str(project.id), status="ok"),
        lambda: queries.get_period_stats(organization_id=org_id, since=top - 26 * HOUR + 7 * MS,
                                         until=top - 3 * HOUR + timedelta(minutes=17)),
        lambda: queries.list_daily_traffic(organization_id=org_id, days=3),
        lambda: queries.list_models_seen(organization_id=org_id),
        lambda: sorted(queries.list_models_in_use(organization_id=org_id, days=1), key=str),
        lambda: overview.get_usage_totals(organization_id=org_id, since=top - 5 * HOUR - 5 * MS),
        lambda: overview.list_daily_spend(organization_id=org_id, since=top - 40 * HOUR),
        *[(lambda d=d, b=b: overview.list_usage_series(organization_id=org_id, since=top - 24 * HOUR,
                                                        bucket_seconds=b, dimension=d, top=1))
          for d in ("model", "project", "provider", "user") for b in (3600, 6 * 3600, 86400)],
        *[(lambda kw=kw: insights.list_model_token_days(organization_id=org_id, **kw)) for kw in (
            {"days": 2}, {"days": 3, "now": top - 7 * HOUR + timedelta(minutes=23, milliseconds=5)},
            {"days": 1, "now": top - 2 * HOUR, "project_id": str(project.id)},
            {"days": 2, "provider": "openai", "model": "gpt-4o"})],
        lambda: queries.list_users(organization_id=org_id),
        lambda: queries.list_users(organization_id=org_id, project_id=str(project.id), sort_by="last_seen", page=2,
                                   limit=3),
        lambda: overview.list_top_spenders(organization_id=org_id, since=top - 20 * HOUR + 3 * MS),
        lambda: queries.list_requests(organization_id=org_id, model="mini", status="ok")["total"],
        lambda: queries.count_matching_requests(organization_id=org_id, since=top - 4 * HOUR - 4 * MS),
        lambda: queries.count_eval_sample_requests(organization_id=org_id),
        lambda: queries.count_eval_sample_requests(organization_id=org_id, model="4o", since=top - 6 * HOUR + 9 * MS),
        lambda: queries.count_eval_sample_requests(organization_id=org_id, user_id="alice"),
        *[(lambda kw=kw: _sessions(org_id, **kw)) for kw in (
            {}, {"sort_by": "cost_usd"}, {"errors_only": True}, {"search": "CHAT"}, {"model": "gpt-4o-mini"},
            {"user_id": "bob"}, {"since": top - 9 * HOUR + 5 * MS, "until": top - 2 * HOUR - 5 * MS},
            {"project_id": str(project.id), "sort_by": "duration", "page": 2, "limit": 2},
            {"page": 40, "limit": 2}, {"errors_only": True, "sort_by": "errors", "sort_dir": "asc"})],
    ]
    for read in reads:
        monkeypatch.setattr(rollup, "enabled", True)
        fast = read()
        monkeypatch.setattr(rollup, "enabled", False)
        _same(fast, read())
    stats = queries.get_period_stats(organization_id=org_id, since=top - 26 * HOUR + 7 * MS, until=top)
    assert stats["requests"] == _truth(log["rows"], top - 26 * HOUR + 7 * MS, top)["rows"]


@pytest.mark.parametrize("shift", [timedelta(0), timedelta(minutes=-37, milliseconds=411), -HOUR, -HOUR - MS],
                         ids=["now", "inside an hour", "on the hour", "an hour's last millisecond"])
def test_the_savings_periods_sum_the_calls_of_each_24_hours(org, project, log, shift):
    """Periods ending at `now` (day_ago 0 holds `now`'s millisecond, not the one a period
    before): every paid call in exactly one, with its weighted token mix and spend, whether
    the periods start on the hour or inside one."""
    now = log["top"] + shift if shift else log["now"]  # rows are up to 30 hours old: periods of 6 hours
    length = timedelta(hours=6)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    got = {(r["model"], int(r["day_ago"])): r
           for r in insights.list_model_token_days(organization_id=str(org.id), days=5, now=now, length=length)}
    want: dict = {}
    for r in log["rows"]:
        age = now - _at(r)
        if r["cache_hit"] or age < timedelta(0) or age >= 5 * length:
            continue
        w = _weight(r["sample_rate"])
        acc = want.setdefault((r["model"], age // length), [0, 0.0, 0.0, 0.0, 0.0, 0.0])
        for i, v in enumerate((1, w, r["prompt_tokens"] * w, r["completion_tokens"] * w,
                               r.get("cache_read_tokens", 0) * w, float(Decimal(r["cost_usd"] or "0")) * w)):
            acc[i] += v
    assert set(got) == set(want) and len(want) >= 8
    for key, (rows, calls, prompt, completion, cache_read, spend) in want.items():
        row = got[key]
        assert int(row["rows"]) == rows, key
        assert [float(row[k]) for k in ("calls", "prompt", "completion", "cache_read", "spend")] == pytest.approx(
            [calls, prompt, completion, cache_read, spend], rel=1e-9), key


def _sessions(org_id, **kw):
    result = sessions.list_sessions(organization_id=org_id, **kw)
    for row in result["rows"]:
        row["models"] = sorted(row["models"])  # a set, in no order
    return result


def test_sessions_are_counted_as_their_calls_are(org, log):
    result = sessions.list_sessions(organization_id=str(org.id), limit=100)
    named = [r for r in log["rows"] if r["session_id"]]
    assert sessions.list_sessions(organization_id=str(org.id), page=9)["total"] == result["total"]  # past the end
    assert result["total"] == len({r["session_id"] for r in named}) == len(result["rows"])
    for row in result["rows"]:
        calls = [r for r in named if r["session_id"] == row["session_id"]]
        latest = max(calls, key=_at)
        assert int(row["kept_rows"]) == len(calls)
        assert int(row["requests"]) == round(sum(_weight(r["sample_rate"]) for r in calls))
        assert row["last_user"] == (latest["user_id"] or "")
        assert sorted(row["models"]) == sorted({r["model"] for r in calls})
        assert int(row["duration_ms"]) == round((latest and (_at(latest) - min(map(_at, calls)))).total_seconds() * 1000)


def test_an_evals_sample_counts_the_calls_it_can_sample(org, log):
    since = log["top"] - 13 * HOUR + 77 * MS
    can = [r for r in log["rows"] if _at(r) >= since and r["origin"] == "" and 200 <= r["status_code"] < 300
           and r["response_body"] != ""]
    counts = queries.count_eval_sample_requests(organization_id=str(org.id), since=since)
    assert counts["count"] == len(can) > 0
    assert counts["avg_prompt_tokens"] == pytest.approx(sum(r["prompt_tokens"] for r in can) / len(can))
    assert counts["avg_completion_tokens"] == pytest.approx(sum(r["completion_tokens"] for r in can) / len(can))


def test_another_tenant_sees_none_of_it(org, log, other_org_and_project):
    other_org, _ = other_org_and_project
    assert _read(other_org)["rows"] == 20
    assert queries.get_request_stats(organization_id=str(other_org.id))["rows"] == 20
    assert _read(org)["rows"] == len(log["rows"])


@pytest.mark.parametrize("of", rollup.ROLLUPS, ids=lambda of: of.table)
def test_the_view_sums_what_the_edges_sum(of):
    """The materialized view as the latest migration creates it and the rollup's select are one SELECT."""
    views = [s for path in migrate.migration_files() for s in migrate._statements(path.read_text())
             if s.startswith(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {of.table}_mv ")]
    view = views[-1]
    flat = lambda s: re.sub(r"\s+", " ", s).replace("( ", "(").replace(" )", ")").strip()  # noqa: E731
    assert flat(view) == flat(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {of.table}_mv TO {of.table} AS "
                              f"{of.view_select}")


def _stored(org) -> tuple[int, ...]:
    """What each rollup sums of the organization's rows, and how many of them it should."""
    engine, params, out = get_engine(), {"o": str(org.id)}, []
    for of in rollup.ROLLUPS:
        [rows] = engine.select(f"SELECT count() AS n FROM requests WHERE organization_id = {{o:UUID}} AND {of.where}", params)
        [summed] = engine.select(f"SELECT sum(rows) AS n FROM {of.table} WHERE organization_id = {{o:UUID}}", params)
        out += [int(summed["n"] or 0), int(rows["n"])]
    return tuple(out)


def _some_in_sessions(org, project, n):
    return [make_row(org, project, session_id=f"s-{i % 3}" if i % 2 else None) for i in range(n)]


def test_rows_stored_before_the_rollup_existed_count_once(org, project):
    engine = get_engine()
    names = ["0013_hourly_rollup.sql", "0014_users_rollup.sql", "0015_sessions_rollup.sql",
             "0016_hourly_token_mix.sql"]
    engine.command(f"DELETE FROM schema_migrations WHERE name IN {tuple(names)}")
    try:
        for of in rollup.ROLLUPS:
            engine.command(f"DROP VIEW IF EXISTS {of.table}_mv")
            engine.command(f"DROP TABLE IF EXISTS {of.table}")
        queries.insert_requests(_some_in_sessions(org, project, 30))  # an install before the upgrade
        out = io.StringIO()
        call_command("clickhouse_migrate", stdout=out)  # what an upgrade runs, saying each step
        said = out.getvalue()
        assert all(f"applying {name}" in said for name in names) and "rows already stored into requests_hourly" in said
        assert "applied 4 migration(s)" in said
        assert said.count("rows already stored into") == 3  # each rollup summed once, in its latest shape
    finally:
        migrate.apply_migrations()
    assert _stored(org) == (30, 30, 30, 30, 15, 15)
    queries.insert_requests(_some_in_sessions(org, project, 7))  # the views sum new rows
    assert _stored(org) == (37, 37, 37, 37, 18, 18)
    assert migrate.apply_migrations() == []


def test_a_restore_that_replaces_the_log_replaces_its_totals(org, project, tmp_path):
    queries.insert_requests(_some_in_sessions(org, project, 12))
    path = str(tmp_path / "log.native")
    backup.export_to_file(path)
    queries.insert_requests(_some_in_sessions(org, project, 5))
    assert _stored(org) == (17, 17, 17, 17, 8, 8)
    backup.import_from_file(path, replace=True)
    assert _stored(org) == (12, 12, 12, 12, 6, 6)


def test_a_periods_totals_models_and_days_agree(org, log):
    """get_period_stats reads its totals, models and days in one statement: they add up, match
    the rows, and an empty period is zeros."""
    top, org_id = log["top"], str(org.id)
    since, until = top - 29 * HOUR + 5 * MS, top - HOUR + timedelta(minutes=9)
    stats = queries.get_period_stats(organization_id=org_id, since=since, until=until)
    truth = _truth(log["rows"], since, until)
    assert stats["requests"] == truth["rows"]
    assert stats["cost_usd"] == pytest.approx(truth["cost"], rel=1e-9)
    assert sum(int(m["requests"]) for m in stats["by_model"]) == truth["rows"]  # two models: all listed
    assert sum(int(d["requests"]) for d in stats["by_day"]) == truth["rows"]
    assert [d["day"] for d in stats["by_day"]] == sorted({_at(r).strftime("%Y-%m-%d") for r in log["rows"]
                                                          if since <= _at(r) <= until})
    costs = [float(m["cost_usd"]) for m in stats["by_model"]]
    assert costs == sorted(costs, reverse=True)
    empty = queries.get_period_stats(organization_id=org_id, since=top + 48 * HOUR, until=top + 50 * HOUR)
    assert (empty["requests"], empty["cost_usd"], empty["p95_latency_ms"], empty["by_model"], empty["by_day"]) == \
        (0, 0.0, 0.0, [], [])
