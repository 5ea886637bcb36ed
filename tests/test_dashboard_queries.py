"""The dashboard's ClickHouse reads against thousands of seeded rows."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from spanlens.requestlog import queries
from tests.seed import make_row, seed

N = 3000


@pytest.fixture
def log(org, project, other_org_and_project):
    """3000 varied rows for the org, plus a few special ones, plus an outsider's rows."""
    rows = seed(org, project, N)
    other_org, other_project = other_org_and_project
    queries.insert_requests([make_row(other_org, other_project, model="gpt-4o-mini-2024-07-18",
                                      user_id="shared-user", session_id="shared-session") for _ in range(50)])
    return rows


def listing(org, **kw):
    return queries.list_requests(organization_id=org.id, **kw)


def test_default_order_is_newest_first_and_pages_cover_every_row_once(org, log):
    seen = []
    for page in range(1, N // 100 + 1):
        result = listing(org, page=page, limit=100)
        assert result["total"] == N
        seen.extend(r["id"] for r in result["rows"])
    assert len(seen) == len(set(seen)) == N
    times = [r["created_at"] for r in sorted(log, key=lambda r: (r["created_at"], r["id"]), reverse=True)]
    first_page = listing(org, page=1, limit=100)["rows"]
    assert [r["created_at"][:19] for r in first_page] == [t[:19] for t in times[:100]]
    assert listing(org, page=N // 100 + 1, limit=100)["rows"] == []


def test_provider_is_an_exact_match(org, log):
    result = listing(org, provider="anthropic", limit=100)
    assert result["total"] == sum(r["provider"] == "anthropic" for r in log)
    assert {r["provider"] for r in result["rows"]} == {"anthropic"}


def test_model_is_a_case_insensitive_substring(org, log):
    result = listing(org, model="MINI", limit=100)
    assert result["total"] == sum("mini" in r["model"] for r in log)
    assert all("mini" in r["model"] for r in result["rows"])


@pytest.mark.parametrize("status,check", [
    ("ok", lambda c: 200 <= c < 300),
    ("4xx", lambda c: 400 <= c < 500),
    ("5xx", lambda c: 500 <= c < 600),
])
def test_status_groups(org, log, status, check):
    result = listing(org, status=status, limit=100)
    assert result["total"] == sum(check(r["status_code"]) for r in log)
    assert all(check(int(r["status_code"])) for r in result["rows"])
    assert listing(org, status="all")["total"] == N


def test_date_range_is_inclusive(org, log):
    times = sorted(datetime.fromisoformat(r["created_at"]).replace(tzinfo=timezone.utc) for r in log)
    since, until = times[100], times[1999]
    result = listing(org, since=since, until=until)
    assert result["total"] == sum(since <= t <= until for t in times)


def test_ids_and_identity_filters(org, project, log):
    key_id, version = str(uuid.uuid4()), str(uuid.uuid4())
    special = [make_row(org, project, provider_key_id=key_id, prompt_version_id=version,
                        user_id="u-1", session_id="s-1") for _ in range(7)]
    queries.insert_requests(special)
    for kwargs in ({"provider_key_id": key_id}, {"prompt_version_id": version},
                   {"user_id": "u-1"}, {"session_id": "s-1"}):
        result = listing(org, **kwargs)
        assert result["total"] == 7, kwargs
        assert {r["id"] for r in result["rows"]} == {r["id"] for r in special}


def test_project_filter(org, project, log):
    from spanlens.core import services

    second = services.create_project(org, "Second")
    queries.insert_requests([make_row(org, second) for _ in range(5)])
    assert listing(org, project_id=str(second.id))["total"] == 5
    assert listing(org, project_id=str(project.id))["total"] == N


def test_search_looks_inside_request_and_response_bodies(org, project, log):
    needle = [make_row(org, project, request_body='{"messages":[{"role":"user","content":"Zebra crossing"}]}'),
              make_row(org, project, response_body='{"choices":[{"message":{"content":"a ZEBRA"}}]}', status_code=200)]
    queries.insert_requests(needle)
    result = listing(org, search="zebra")
    assert {r["id"] for r in result["rows"]} == {r["id"] for r in needle}


@pytest.mark.parametrize("column", ["latency_ms", "cost_usd", "total_tokens", "created_at"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sorting(org, log, column, direction):
    rows = listing(org, sort_by=column, sort_dir=direction, limit=100, page=3)["rows"]
    values = [float(r[column]) if column != "created_at" else r["created_at"] for r in rows]
    assert values == sorted(values, reverse=direction == "desc")
    # Page 3 continues where page 2 stopped.
    previous = listing(org, sort_by=column, sort_dir=direction, limit=100, page=2)["rows"]
    last = float(previous[-1][column]) if column != "created_at" else previous[-1]["created_at"]
    assert (values[0] <= last) if direction == "desc" else (values[0] >= last)


def test_window_reads_across_a_page_boundary(org, log):
    page1 = listing(org, limit=50, page=1)["rows"]
    page2 = listing(org, limit=50, page=2)["rows"]
    window = queries.list_request_window(organization_id=org.id, offset=49, limit=2)
    assert [w["id"] for w in window] == [page1[-1]["id"], page2[0]["id"]]


def test_outsiders_rows_never_appear(org, other_org_and_project, log):
    other_org, _ = other_org_and_project
    assert listing(org, user_id="shared-user")["total"] == 0
    assert listing(org, session_id="shared-session")["total"] == 0
    mine = {r["id"] for r in log}
    exported = {r["id"] for r in queries.iter_requests_for_export(organization_id=org.id, batch_size=700)}
    assert exported == mine
    theirs = listing(other_org, limit=100)["rows"]
    assert theirs and not (mine & {r["id"] for r in theirs})
    assert "shared-user" not in {u["user_id"] for u in queries.list_users(organization_id=org.id)["rows"]}


def test_retention_hides_rows_older_than_the_plan(org, project):
    old = make_row(org, project, created_at=datetime.now(timezone.utc) - timedelta(days=20))
    new = make_row(org, project, created_at=datetime.now(timezone.utc) - timedelta(days=2))
    queries.insert_requests([old, new])
    assert listing(org, retention_days=14)["total"] == 1
    assert listing(org, retention_days=90)["total"] == 2


def test_export_iterates_in_batches_with_bodies(org, log):
    rows = list(queries.iter_requests_for_export(organization_id=org.id, provider="gemini", batch_size=250))
    assert len(rows) == sum(r["provider"] == "gemini" for r in log)
    assert all("contents" in r["request_body"] for r in rows)


def test_stat_strip_counts_the_last_24_hours(org, project):
    now = datetime.now(timezone.utc)
    rows = [make_row(org, project, created_at=now - timedelta(hours=h), latency_ms=1000 + h, status_code=200,
                     cost_usd="0.01000000") for h in range(10)]
    rows.append(make_row(org, project, created_at=now - timedelta(minutes=5), status_code=500, latency_ms=3000,
                         cost_usd="0.00000000"))
    rows.append(make_row(org, project, created_at=now - timedelta(hours=30)))
    queries.insert_requests(rows)
    stats = queries.get_request_stats(organization_id=org.id)
    assert stats["requests"] == 11
    assert stats["errors"] == 1
    assert stats["error_rate"] == pytest.approx(1 / 11)
    assert stats["spend_usd"] == pytest.approx(0.10)
    assert stats["avg_latency_ms"] == pytest.approx((sum(1000 + h for h in range(10)) + 3000) / 11)
    assert sum(int(h["requests"]) for h in stats["hourly"]) == 11


def test_daily_traffic_marks_error_days(org, project):
    now = datetime.now(timezone.utc)
    queries.insert_requests(
        [make_row(org, project, created_at=now - timedelta(days=3), status_code=200) for _ in range(4)]
        + [make_row(org, project, created_at=now - timedelta(days=1), status_code=503)]
        + [make_row(org, project, created_at=now - timedelta(days=45))]
    )
    days = {d["day"]: (int(d["requests"]), int(d["errors"])) for d in queries.list_daily_traffic(organization_id=org.id)}
    assert days[(now - timedelta(days=3)).date().isoformat()] == (4, 0)
    assert days[(now - timedelta(days=1)).date().isoformat()] == (1, 1)
    assert len(days) == 2


def test_users_are_grouped_and_sortable(org, project, other_org_and_project):
    queries.insert_requests(
        [make_row(org, project, user_id="alice", cost_usd="0.50000000") for _ in range(3)]
        + [make_row(org, project, user_id="bob", cost_usd="0.10000000") for _ in range(5)]
        + [make_row(org, project, user_id=None)]
    )
    by_cost = queries.list_users(organization_id=org.id)
    assert [u["user_id"] for u in by_cost["rows"]] == ["alice", "bob"]
    assert by_cost["total"] == 2
    assert float(by_cost["rows"][0]["cost_usd"]) == pytest.approx(1.5)
    by_count = queries.list_users(organization_id=org.id, sort_by="requests", sort_dir="desc")
    assert [u["user_id"] for u in by_count["rows"]] == ["bob", "alice"]
    other_org, _ = other_org_and_project
    assert queries.list_users(organization_id=other_org.id)["rows"] == []


def test_unpriced_models_and_the_unpriced_count_are_per_organization(org, project, other_org_and_project):
    from datetime import datetime, timezone

    from spanlens.requestlog import queries
    from tests.seed import make_row

    other_org, other_project = other_org_and_project
    now = datetime.now(timezone.utc)
    queries.insert_requests([
        make_row(org, project, provider="openai", model="ours-unpriced", cost_usd=None, cost_source="unknown",
                 created_at=now),
        make_row(org, project, provider="openai", model="ours-unpriced", cost_usd=None, cost_source="unknown",
                 created_at=now),
        make_row(org, project, model="gpt-4o-mini", cost_source="reported", created_at=now),
        make_row(other_org, other_project, model="theirs-unpriced", cost_usd=None, cost_source="unknown",
                 created_at=now),
    ])
    [mine] = queries.list_unpriced_models(organization_id=org.id)
    assert (mine["model"], int(mine["calls"]), int(mine["calls_24h"])) == ("ours-unpriced", 2, 2)
    assert queries.get_request_stats(organization_id=org.id)["unpriced"] == 2
    assert [r["model"] for r in queries.list_unpriced_models(organization_id=other_org.id)] == ["theirs-unpriced"]
    # Rows written before cost_source existed read it from their cost.
    old = make_row(org, project, model="legacy", cost_usd=None, created_at=now)
    queries.insert_requests([old])
    assert queries.get_request(organization_id=org.id, request_id=old["id"])["cost_source"] == "unknown"
