"""In a real browser: save a filter set as a view and open it as a colleague, then share a
trace with its bodies hidden and open the link signed out."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from spanlens.core.models import Membership
from tests.test_traces_pages import seed_agent_trace

SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")


@pytest.fixture
def seeded(live_db, org, project):
    return seed_agent_trace(org, project)


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
    context = browser.new_context(viewport={"width": 1360, "height": 860})
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.url}])
    return context.new_page()


def test_a_view_saved_by_one_user_opens_for_a_colleague(seeded, spanlens_server, browser, owner, org):
    colleague = get_user_model().objects.create_user("colleague", "c@example.com", "pw-colleague-123")
    Membership.objects.create(organization=org, user=colleague, role=Membership.Role.MEMBER)
    page = signed_in(browser, spanlens_server, owner)
    page.goto(f"{spanlens_server.url}/traces?status=error")
    page.click(".view-save summary")
    page.fill(".view-save-form input[name=view_name]", "Failed traces")
    page.check(".view-save-form input[name=shared]")
    page.click(".view-save-form button")
    page.wait_for_selector('.view-chip.active[data-view="Failed traces"]')
    page.screenshot(path=str(SHOTS / "saved-views-bar.png"))

    other = signed_in(browser, spanlens_server, colleague)
    other.goto(f"{spanlens_server.url}/traces?view=none")
    other.click('[data-view="Failed traces"] a')
    other.wait_for_url(re.compile(r"status=error"))
    assert "support-agent" in other.inner_text("body")


def test_a_trace_shared_with_bodies_hidden_opens_signed_out(seeded, spanlens_server, browser, owner):
    trace_id, _, _ = seeded
    page = signed_in(browser, spanlens_server, owner)
    page.goto(f"{spanlens_server.url}/traces/{trace_id}")
    page.click("[data-share-box] summary")
    page.uncheck("input[name=hide_metadata]")
    page.click("[data-create-share]")
    page.wait_for_selector("[data-share-url]")
    page.screenshot(path=str(SHOTS / "shares-page.png"))
    link = page.inner_text("[data-share-url]").strip()

    visitor = browser.new_context(viewport={"width": 1360, "height": 860}).new_page()
    visitor.goto(link)
    text = visitor.inner_text("body")
    visitor.screenshot(path=str(SHOTS / "shared-trace-signed-out.png"), full_page=True)
    assert "support-agent" in text and "lookup_order" in text
    assert "Where is order A-1?" not in text and "shipped" not in text and "cust-42" not in text
    assert "Span inputs and outputs are not part of this link." in text
    assert "Sign out" not in text and "/settings/" not in visitor.content()

    page.reload()
    assert page.inner_text("[data-view-count]") == "1"
