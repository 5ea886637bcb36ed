"""/savings: substitutes priced by the cost engine on the real token mix, the prompt cache, Simulate."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from django.test import Client

from spanlens.core import pricing
from spanlens.requestlog import queries
from spanlens.savings import projection, services
from spanlens.savings.models import ModelTier
from tests.seed import make_row

MODEL = "gpt-4o-2024-08-06"
LONG_PROMPT = "You are the support assistant of Acme. " + "Policy: refunds within 30 days, no questions asked. " * 120


def week_of_calls(org, project, *, model=MODEL, provider="openai", per_day=40, sample_rate=1.0, **extra):
    """per_day calls on each of the last 7 days (a little fewer on odd days, so days differ)."""
    now = datetime.now(timezone.utc)
    rows = []
    for day in range(7):
        for i in range(per_day - (day % 2) * 5):
            rows.append(make_row(
                org, project, provider=provider, model=model, status_code=200, prompt_tokens=2000 + i,
                completion_tokens=300, total_tokens=2300 + i, cache_read_tokens=500, cache_write_tokens=0,
                cost_usd="0.01000000", sample_rate=sample_rate,
                created_at=now - timedelta(days=day, minutes=10 + i), **extra))
    queries.insert_requests(rows)
    return rows


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def outsider_client(outsider, other_org_and_project):
    client = Client()
    client.force_login(outsider)
    return client


def _totals(rows):
    return {k: sum(r[k] for r in rows) for k in ("prompt_tokens", "completion_tokens", "cache_read_tokens")}


def test_the_saving_is_the_week_repriced_by_the_cost_engine_per_month(org, project):
    rows = week_of_calls(org, project)
    models = services.model_savings(organization_id=org.id)
    entry = next(m for m in models if m["model"] == MODEL)
    assert entry["tier"].model == "gpt-4o" and entry["enough"]
    mini = next(s for s in entry["suggestions"] if s.substitute.model == "gpt-4o-mini")
    t = _totals(rows)

    def cost(model):
        return float(pricing.compute_cost("openai", model, prompt_tokens=t["prompt_tokens"],
                                          completion_tokens=t["completion_tokens"],
                                          cache_read_tokens=t["cache_read_tokens"]))

    assert mini.projection.current_week == pytest.approx(cost("gpt-4o"), rel=1e-6)
    assert mini.projection.target_week == pytest.approx(cost("gpt-4o-mini"), rel=1e-6)
    assert mini.projection.monthly_saving == pytest.approx((cost("gpt-4o") - cost("gpt-4o-mini")) / 7 * 30, rel=1e-6)
    # Largest saving first; a model no cheaper at this mix is not suggested.
    savings = [s.projection.monthly_saving for s in entry["suggestions"]]
    assert savings == sorted(savings, reverse=True) and all(v > 0 for v in savings)
    assert all(s.substitute.provider == "openai" and s.substitute.tier in (1, 2) for s in entry["suggestions"])


def test_sampled_rows_count_as_the_traffic_they_stand_for(org, project):
    rows = week_of_calls(org, project, sample_rate=0.25, per_day=20)
    entry = next(m for m in services.model_savings(organization_id=org.id) if m["model"] == MODEL)
    assert entry["usage"].rows == len(rows)
    assert entry["usage"].calls == pytest.approx(4 * len(rows))
    assert entry["usage"].prompt == pytest.approx(4 * _totals(rows)["prompt_tokens"])


def test_the_interval_uses_students_t_and_the_label_the_call_count():
    from scipy import stats

    assert projection.T_975_6DF == pytest.approx(stats.t.ppf(0.975, 6), rel=1e-12)
    assert projection.confidence_label(5000, 100.0, 10.0) == "high"
    assert projection.confidence_label(500, 100.0, 10.0) == "medium"
    assert projection.confidence_label(5000, 100.0, 60.0) == "low"
    assert projection.confidence_label(50, 100.0, 1.0) == "low"


def test_the_interval_is_the_t_interval_of_the_daily_savings(org, project):
    week_of_calls(org, project)
    from scipy import stats

    entry = next(m for m in services.model_savings(organization_id=org.id) if m["model"] == MODEL)
    p = entry["suggestions"][0].projection
    daily = [c - t for c, t in zip(p.daily_current, p.daily_target)]
    low, high = stats.t.interval(0.95, 6, loc=sum(daily) / 7, scale=stats.sem(daily))
    assert p.interval == pytest.approx((high - low) / 2 * 30, rel=1e-9)


def test_substitutes_are_the_same_provider_and_kind_one_tier_lighter_at_most(db):
    tiers = {(t.provider, t.model.lower()): t for t in ModelTier.objects.all()}
    gpt4o = services.tier_of("openai", "gpt-4o-2024-08-06", tiers)
    subs = {t.model for t in services.substitutes_for(gpt4o, tiers)}
    assert {"gpt-4.1", "gpt-4o-mini", "gpt-4.1-mini"} <= subs
    assert "gpt-4.1-nano" not in subs and "o3-mini" not in subs and "gpt-4o" not in subs
    assert all(tiers[("openai", m)].provider == "openai" for m in subs)
    o3 = services.tier_of("openai", "o3", tiers)
    assert {t.model for t in services.substitutes_for(o3, tiers)} == {"o1", "o3-mini", "o4-mini"}
    ModelTier.objects.filter(provider="openai", model="gpt-4o-mini").update(enabled=False)
    tiers = {(t.provider, t.model.lower()): t for t in ModelTier.objects.all()}
    assert "gpt-4o-mini" not in {t.model for t in services.substitutes_for(gpt4o, tiers)}


def test_a_model_with_little_traffic_gets_no_substitutes(org, project, settings):
    settings.SAVINGS_MIN_CALLS = 10_000
    week_of_calls(org, project, per_day=5)
    entry = next(m for m in services.model_savings(organization_id=org.id) if m["model"] == MODEL)
    assert not entry["enough"] and entry["suggestions"] == []


def test_prompt_cache_savings_month_to_date_are_reads_at_list_price_less_the_write_premium(org, project):
    now = datetime.now(timezone.utc)
    rows = [make_row(org, project, provider="anthropic", model="claude-sonnet-4-5", status_code=200,
                     prompt_tokens=10_000, completion_tokens=100, cache_read_tokens=8000, cache_write_tokens=1000,
                     created_at=now - timedelta(minutes=i)) for i in range(20)]
    queries.insert_requests(rows)
    cache = services.prompt_cache_mtd(organization_id=org.id, now=now)
    # claude-sonnet-4-5: input $3, cache read $0.30, cache write $3.75 per 1M tokens.
    price = pricing.find_price("anthropic", "claude-sonnet-4-5")
    reads, writes = 20 * 8000, 20 * 1000
    assert cache["saved_usd"] == pytest.approx(reads * float(price.input_per_1m - price.cache_read_per_1m) / 1e6)
    premium = float(price.cache_write_per_1m - price.input_per_1m)
    assert cache["write_premium_usd"] == pytest.approx(writes * premium / 1e6)
    assert cache["net_usd"] == pytest.approx(cache["saved_usd"] - cache["write_premium_usd"])
    assert cache["models"][0]["model"] == "claude-sonnet-4-5"


def test_long_prompts_that_start_alike_without_cache_reads_would_gain_from_caching(org, project):
    now = datetime.now(timezone.utc)
    body = '{"model":"gpt-4.1","messages":[{"role":"system","content":"' + LONG_PROMPT + '"},'
    repeated = [make_row(org, project, provider="openai", model="gpt-4.1", status_code=200, prompt_tokens=1500,
                         cache_read_tokens=0, created_at=now - timedelta(minutes=i),
                         request_body=body + f'{{"role":"user","content":"question {i}"}}]}}') for i in range(12)]
    different = [make_row(org, project, provider="openai", model="gpt-4.1", status_code=200, prompt_tokens=1500,
                          created_at=now - timedelta(minutes=i), request_body=f"{i} " + body) for i in range(12)]
    cached = [make_row(org, project, provider="openai", model="gpt-4o", status_code=200, prompt_tokens=1500,
                       cache_read_tokens=1400, created_at=now - timedelta(minutes=i), request_body=body)
              for i in range(12)]
    queries.insert_requests(repeated + different + cached)
    groups = services.cacheable_calls(organization_id=org.id)
    assert len(groups) == 1
    g = groups[0]
    assert g["model"] == "gpt-4.1" and g["calls"] == 12 and g["monthly_saving_usd"] > 0
    assert g["prefix_tokens"] == 1024 and g["at_least"]
    assert "first and identical" in g["advice"]


def test_savings_summary_has_the_documented_shape(org, project):
    week_of_calls(org, project)
    summary = services.savings_summary(organization_id=org.id)
    assert set(summary) >= {"monthly_saving_usd", "cache_saved_mtd_usd", "top", "models_considered"}
    assert summary["monthly_saving_usd"] > 0 and summary["models_considered"] == 1
    top = summary["top"][0]
    assert top["model"] == MODEL and top["confidence"] in ("high", "medium", "low")
    assert top["url"].startswith("/savings/#m-openai-gpt-4o")
    assert summary["monthly_saving_usd"] == pytest.approx(top["monthly_saving_usd"], abs=0.01)


def test_the_page_lists_substitutes_with_simulate_and_bulk_replay(owner_client, org, project):
    week_of_calls(org, project)
    page = owner_client.get("/savings/").content.decode()
    assert f'data-model="openai/{MODEL}"' in page and 'data-substitute="gpt-4o-mini"' in page
    assert "data-simulate" in page and "/experiments/replay/?provider=openai" in page


def test_simulate_reprices_the_week_on_the_chosen_model(owner_client, org, project):
    rows = week_of_calls(org, project)
    response = owner_client.get(f"/savings/?source=openai|{MODEL}&target_provider=openai&target_model=gpt-4.1-mini",
                                HTTP_HX_REQUEST="true", HTTP_HX_TARGET="sim-result")
    assert response.status_code == 200
    body = response.content.decode()
    assert "data-simulation" in body and "<html" not in body
    t = _totals(rows)
    expected = float(pricing.compute_cost("openai", "gpt-4.1-mini", prompt_tokens=t["prompt_tokens"],
                                          completion_tokens=t["completion_tokens"],
                                          cache_read_tokens=t["cache_read_tokens"]))
    assert f"${expected:,.2f}" in body
    assert "target_model=gpt-4.1-mini" in body


@pytest.mark.parametrize("query, field", [
    (f"provider=openai&model={MODEL}&target_provider=openai&target_model=no-such-model", "target_model"),
    ("provider=openai&model=never-called&target_provider=openai&target_model=gpt-4o-mini", "model"),
    (f"provider=nope&model={MODEL}&target_provider=openai&target_model=gpt-4o-mini", "provider"),
    (f"provider=openai&model={MODEL}&target_provider=openai", "target_model"),
])
def test_bad_simulate_input_is_a_form_error(owner_client, org, project, query, field):
    week_of_calls(org, project, per_day=3)
    response = owner_client.get(f"/savings/?{query}")
    assert response.status_code == 400
    assert f"{field}:" in response.content.decode() and "data-form-error" in response.content.decode()


def test_the_bulk_replay_link_fills_in_the_substitute(owner_client, org, project):
    week_of_calls(org, project, per_day=3)
    url = services.replay_url("openai", MODEL, "openai", "gpt-4o-mini")
    page = owner_client.get(url).content.decode()
    assert 'name="target_model" value="gpt-4o-mini"' in page
    assert "data-replay-count" in page


def test_savings_are_tenant_scoped(owner_client, outsider_client, org, project, other_org_and_project):
    other_org, other_project = other_org_and_project
    week_of_calls(other_org, other_project, model="gpt-4.1-2025-04-14")
    week_of_calls(org, project)
    mine = owner_client.get("/savings/").content.decode()
    assert "gpt-4.1-2025-04-14" not in mine.split('id="simulate"')[0]
    theirs = outsider_client.get("/savings/").content.decode()
    assert MODEL not in theirs
    # Simulating another tenant's model finds no calls rather than its numbers.
    response = outsider_client.get(f"/savings/?provider=openai&model={MODEL}&target_provider=openai"
                                   "&target_model=gpt-4o-mini")
    assert response.status_code == 400 and "no calls" in response.content.decode()
    assert services.savings_summary(organization_id=other_org.id)["top"][0]["model"] == "gpt-4.1-2025-04-14"


def test_savings_need_a_sign_in(client):
    response = client.get("/savings/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_tier_table_is_seeded_from_its_data_file(db):
    import csv
    from pathlib import Path

    path = Path(services.__file__).parent / "data" / "tiers.csv"
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert ModelTier.objects.count() >= len(rows)
    for r in rows:
        assert pricing.find_price(r["provider"], r["model"]) is not None, f"{r['model']} has no price"
    assert not math.isnan(projection.T_975_6DF)
