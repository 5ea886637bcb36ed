"""In a real browser at 1440 px: the home page (charts that answer on hover, switching range
and dimension) and a session's conversation, with screenshots."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client

from spanlens.core import demo_traffic
from spanlens.requestlog import sessions

SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")


@pytest.fixture
def demo(live_db, org, project):
    from spanlens.core.models import Project

    staging = Project.objects.create(organization=org, name="Staging")
    return demo_traffic.generate(org, [project, staging], days=7, calls_per_day=120, seed=4)


@pytest.fixture
def browser(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


def signed_in(browser, server, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.url}])
    page = context.new_page()
    errors = []
    # Script errors only: a missing favicon is not this page's business.
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    return page


def test_the_home_page_charts_and_switches(demo, spanlens_server, browser, owner):
    page = signed_in(browser, spanlens_server, owner)
    page.goto(f"{spanlens_server.url}/?range=7d&by=model")
    page.wait_for_selector("[data-chart=requests] svg")
    assert page.locator("[data-chart=requests] .col").count() == 28
    # Hovering a column shows its breakdown by model.
    page.locator("[data-chart=spend] .col").nth(20).hover()
    tip = page.locator("#chart-tip")
    tip.wait_for(state="visible")
    assert "total" in tip.inner_text() and "$" in tip.inner_text()
    page.screenshot(path=str(SHOTS / "home-7d-by-model.png"), full_page=True)
    assert "No open anomalies." in page.inner_text("[data-panel=anomalies]")
    assert page.locator("[data-panel=top-users] tr").count() == 5

    page.click("[data-by=project]")
    page.wait_for_url("**by=project**")
    legend = page.inner_text(".series-legend")
    assert "Default" in legend and "Staging" in legend
    page.click("[data-range='30d']")
    page.wait_for_url("**range=30d**")
    assert page.locator("[data-chart=requests] .col").count() == 30
    page.screenshot(path=str(SHOTS / "home-30d-by-project.png"), full_page=True)
    assert page.console_errors == []


def test_a_session_reads_as_a_conversation(demo, spanlens_server, browser, owner, org):
    page = signed_in(browser, spanlens_server, owner)
    page.goto(f"{spanlens_server.url}/sessions/?sortBy=requests")
    page.wait_for_selector("#sessions-table tbody tr[data-session-id]")
    page.screenshot(path=str(SHOTS / "sessions-list.png"), full_page=False)
    longest = sessions.list_sessions(organization_id=org.id, sort_by="requests")["rows"][0]
    page.click(f"tr[data-session-id='{longest['session_id']}'] td:nth-child(3)")
    page.wait_for_selector("[data-timeline] .turn")
    assert page.locator(".turn").count() == int(longest["requests"])
    assert page.locator(".turn .msg-user").count() >= 2 and page.locator(".turn .msg-assistant").count() >= 1
    page.screenshot(path=str(SHOTS / "session-timeline.png"), full_page=False)
    page.locator("[data-request-link]").first.click()
    page.wait_for_url("**/requests/**")
    assert page.console_errors == []
