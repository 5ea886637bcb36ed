"""/savings and /anomalies in a real Chromium: substitutes, Simulate, bulk replay, acknowledge."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from importlib import import_module

from tests.test_anomalies import NOW, traffic
from tests.test_browser_requests import CHROMIUM, SHOTS, browser_page, pytestmark, sign_in  # noqa: F401
from tests.test_savings import LONG_PROMPT, MODEL, week_of_calls


def _seed_tiers():
    from django.apps import apps as django_apps

    from spanlens.savings.models import ModelTier

    if not ModelTier.objects.exists():  # the live server's tests flush the seeded table
        import_module("spanlens.savings.migrations.0002_seed_model_tiers").seed(django_apps, None)


def test_a_user_finds_a_saving_simulates_it_and_sends_it_to_replay(spanlens_server, live_db, owner, org, project,
                                                                    other_org_and_project, browser_page):
    from spanlens.requestlog import queries
    from tests.seed import make_row

    _seed_tiers()
    page = browser_page
    now = datetime.now(timezone.utc)
    week_of_calls(org, project)
    week_of_calls(org, project, provider="anthropic", model="claude-sonnet-4-5", per_day=30)
    body = '{"model":"gpt-4.1","messages":[{"role":"system","content":"' + LONG_PROMPT + '"},'
    queries.insert_requests(
        [make_row(org, project, provider="openai", model="gpt-4.1", status_code=200, prompt_tokens=1800,
                  cache_read_tokens=0, created_at=now - timedelta(minutes=3 * i),
                  request_body=body + f'{{"role":"user","content":"ticket {i}"}}]}}') for i in range(30)]
        + [make_row(org, project, provider="anthropic", model="claude-sonnet-4-5", status_code=200,
                    prompt_tokens=12_000, completion_tokens=200, cache_read_tokens=10_000, cache_write_tokens=500,
                    created_at=now - timedelta(hours=i)) for i in range(40)])
    other_org, other_project = other_org_and_project
    week_of_calls(other_org, other_project, model="gpt-4.1-2025-04-14-outsider")

    sign_in(page, spanlens_server)
    page.goto(f"{spanlens_server.url}/savings/")
    page.wait_for_selector(f'[data-model="openai/{MODEL}"] tr[data-substitute]')
    assert "outsider" not in page.content()
    page.screenshot(path=str(SHOTS / "savings.png"), full_page=True)

    page.click(f'[data-model="openai/{MODEL}"] tr[data-substitute="gpt-4o-mini"] a[data-simulate]')
    page.wait_for_selector("#sim-result [data-simulation]")
    assert "gpt-4o-mini" in page.inner_text("#sim-result")
    page.locator("#simulate").screenshot(path=str(SHOTS / "savings-simulate.png"))

    page.click("#sim-result a[data-bulk-replay]")
    page.wait_for_selector("#replay-form")
    assert page.input_value("input[name=target_model]") == "gpt-4o-mini"
    assert int(page.inner_text("[data-replay-count]")) > 0


def test_a_user_sees_an_anomaly_against_its_band_and_acknowledges_it(spanlens_server, live_db, owner, org, project,
                                                                       other_org_and_project, browser_page, settings):
    from spanlens.anomalies import services

    settings.ANOMALY_MIN_CALLS = 10
    page = browser_page
    traffic(org, project)
    services.detect_for_organization(org.id, now=NOW)
    services.take_daily_snapshot(org.id, NOW.date())
    services.take_daily_snapshot(org.id, NOW.date() - timedelta(days=3))
    active = services.count_active(org.id)
    assert active >= 2

    sign_in(page, spanlens_server)
    page.wait_for_selector('[data-stat="anomalies"]')
    assert page.inner_text('[data-stat="anomalies"] .stat-value').strip() == str(active)
    page.click("a[data-anomalies-link]")
    page.wait_for_selector("#open-anomalies .an-card svg.band-chart")
    assert page.locator("#open-anomalies .an-card").count() == active
    assert "mallory" in page.inner_text("#open-anomalies")
    page.screenshot(path=str(SHOTS / "anomalies.png"), full_page=True)
    page.locator("#open-anomalies .an-card").first.screenshot(path=str(SHOTS / "anomalies-card.png"))

    card = page.locator('#open-anomalies .an-card[data-metric="p95_latency_ms"]').first
    anomaly_id = card.get_attribute("data-anomaly-id")
    card.locator("input[name=note]").fill("Slow upstream during the deploy; rolled back")
    card.locator("button[data-acknowledge]").click()
    page.wait_for_selector(".flash")
    assert page.locator(f'#open-anomalies [data-anomaly-id="{anomaly_id}"]').count() == 0
    assert page.locator(f'#recent-anomalies [data-anomaly-id="{anomaly_id}"]').count() == 1
    page.screenshot(path=str(SHOTS / "anomalies-acknowledged.png"), full_page=True)
