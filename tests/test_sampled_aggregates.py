"""Sampled traffic counts right: the SDK sends its rate with each kept call, and every
aggregate weights a row by 1 / sample_rate (errors, kept whatever the rate, count once)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from django.test import Client

from spanlens.requestlog import overview, queries, weighting
from spanlens.sdk.sampling import Sampling
from tests.seed import make_row


@pytest.fixture
def sampled(org, project, other_org_and_project):
    now = datetime.now(timezone.utc)
    rng = random.Random(1)
    kept = [make_row(org, project, rng=rng, created_at=now - timedelta(minutes=5 + i), status_code=200,
                     user_id="alice", sample_rate=0.25, cost_usd="0.00100000", latency_ms=100, total_tokens=10)
            for i in range(40)]
    errors = [make_row(org, project, rng=rng, created_at=now - timedelta(minutes=50 + i), status_code=500,
                       user_id="alice", sample_rate=1, cost_usd="0.00000000", latency_ms=500, total_tokens=0)
              for i in range(3)]
    other_org, other_project = other_org_and_project
    theirs = [make_row(other_org, other_project, rng=rng, status_code=200, sample_rate=0.01,
                       created_at=now - timedelta(minutes=3)) for _ in range(5)]
    queries.insert_requests(kept + errors + theirs)
    return kept, errors


def test_the_stat_strip_scales_sampled_rows_up(org, sampled):
    stats = queries.get_request_stats(organization_id=org.id)
    assert stats["rows"] == 43 and stats["sampled_rows"] == 40
    assert stats["requests"] == 163  # 40 kept calls standing for 160, and 3 errors counted once
    assert stats["errors"] == 3 and stats["error_rate"] == pytest.approx(3 / 163)
    assert stats["spend_usd"] == pytest.approx(0.16)
    assert stats["avg_latency_ms"] == pytest.approx((160 * 100 + 3 * 500) / 163)
    assert stats["kept_share"] == pytest.approx(43 / 163)
    assert sum(h["requests"] for h in stats["hourly"]) == pytest.approx(163)


def test_the_bars_users_and_home_totals_agree(org, sampled):
    assert sum(int(d["requests"]) for d in queries.list_daily_traffic(organization_id=org.id)) == 163
    alice = queries.list_users(organization_id=org.id)["rows"][0]
    assert int(alice["requests"]) == 163 and int(alice["total_tokens"]) == 1600 and int(alice["errors"]) == 3
    assert alice["cost_usd"] == pytest.approx(0.16) and int(alice["sampled_rows"]) == 40
    totals = overview.get_usage_totals(organization_id=org.id, since=datetime.now(timezone.utc) - timedelta(days=1))
    assert totals["requests"] == 163 and totals["spend_usd"] == pytest.approx(0.16)


def test_unsampled_traffic_is_not_called_an_estimate(org, project):
    queries.insert_requests([make_row(org, project, status_code=200,
                                      created_at=datetime.now(timezone.utc) - timedelta(minutes=1))])
    stats = queries.get_request_stats(organization_id=org.id)
    assert stats["requests"] == 1 and stats["sampled_rows"] == 0 and stats["kept_share"] is None
    assert weighting.kept_share(0, 0) is None and weighting.kept_share(10, 40) == 0.25


def test_the_pages_mark_estimates(owner, sampled):
    client = Client()
    client.force_login(owner)
    requests_page = client.get("/requests/").content.decode()
    strip = requests_page.split('data-stat="requests"')[1].split('data-stat="latency"')[0]
    assert "≈163" in strip and "26.4% sampled" in strip
    assert "(sampled calls scaled up)" in requests_page
    users_page = client.get("/users/").content.decode()
    assert "≈163" in users_page


def test_the_sdk_sends_its_rate_only_with_kept_calls():
    assert Sampling(rate=0.25).rate_header(None) == "0.25"
    assert Sampling(rate=0.25).rate_header("errors") is None
    assert Sampling(rate=1.0).rate_header(None) is None


def test_through_the_proxy_kept_calls_record_the_rate_and_errors_count_once(
    upstream, provider_keys, spanlens_server, api_key, org, read_rows
):
    from spanlens.openai import create_openai

    random.seed(11)  # the SDK draws from the module's generator
    llm = create_openai(api_key=api_key[1], base_url=spanlens_server.url, max_retries=0, sampling=0.5)
    for _ in range(30):
        llm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    for _ in range(4):
        with pytest.raises(Exception):
            llm.chat.completions.create(model="gpt-4o-mini+error-500", messages=[{"role": "user", "content": "x"}])
    sent = [r.headers for r in upstream.requests]
    assert not any("x-spanlens-sample-rate" in h or "x-spanlens-sample" in h for h in sent)  # ours stay here
    rows = read_rows(org.id, expect=5 + 4)
    ok = [r for r in rows if r["status_code"] == 200]
    failed = [r for r in rows if r["status_code"] == 500]
    assert len(failed) == 4 and all(r["sample_rate"] == 1 for r in failed)
    assert 5 <= len(ok) <= 25 and all(r["sample_rate"] == pytest.approx(0.5) for r in ok)
    stats = queries.get_request_stats(organization_id=org.id)
    assert stats["requests"] == 2 * len(ok) + 4 and stats["errors"] == 4


def test_prompt_totals_scale_sampled_calls_up(owner, org, project):
    from evals.prompt_services import create_prompt

    prompt = create_prompt(org, project, "support-reply", template="Answer {{question}}")
    version = prompt.versions.get()
    now = datetime.now(timezone.utc)
    queries.insert_requests([make_row(org, project, status_code=200, sample_rate=0.5, cost_usd="0.01000000",
                                      prompt_version_id=str(version.id), created_at=now - timedelta(minutes=i + 1))
                             for i in range(6)])
    totals = queries.list_prompt_version_totals(organization_id=org.id, version_ids=[str(version.id)])
    assert int(totals[0]["calls"]) == 12 and float(totals[0]["cost_usd"]) == pytest.approx(0.12)
    client = Client()
    client.force_login(owner)
    assert "≈12" in client.get("/prompts/").content.decode()
