"""The dashboard in a real Chromium: filter controls after Back, keyboard shortcuts, the live
tail (a call through the proxy appears without a reload), and the main pages from 375 px to
1920 px wide without anything spilling sideways."""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.seed import make_row

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")


@pytest.fixture
def browser(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()


def sign_in(page, server, username="owner", password="pw-owner-123"):
    page.goto(f"{server.url}/requests/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/requests/"))


def seed_requests(org, project, key_id: str, count: int = 30) -> list[dict]:
    from spanlens.requestlog import queries

    now = datetime.now(timezone.utc)
    rows = [make_row(org, project, provider="openai" if i % 2 else "anthropic",
                     model="gpt-4o-mini-2024-07-18" if i % 2 else "claude-sonnet-4-5", status_code=200,
                     created_at=now - timedelta(minutes=i + 1), provider_key_id=key_id,
                     user_id=f"customer-{i % 4}", session_id=f"chat-{i % 3}")
            for i in range(count)]
    queries.insert_requests(rows)
    return rows


def test_filters_after_back_shortcuts_and_the_live_tail(spanlens_server, live_db, owner, org, project, upstream,
                                                        provider_keys, sl_key, browser):
    import openai

    rows = seed_requests(org, project, str(provider_keys["openai"].id))
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    sign_in(page, spanlens_server)
    page.wait_for_selector("#request-table tbody tr[data-request-id]")

    # Two filters one after the other, then Back: the controls show the first filter only.
    page.select_option("select[name=provider]", "anthropic")
    page.wait_for_url(re.compile(r"provider=anthropic"))
    page.wait_for_selector("[data-stats-filtered]")
    assert page.locator("[data-stat=requests] .stat-value").inner_text() == "15"
    page.fill("input[name=model]", "sonnet")
    page.press("input[name=model]", "Enter")
    page.wait_for_url(re.compile(r"model=sonnet"))
    page.go_back()
    page.wait_for_function("() => !location.search.includes('model=')")
    page.wait_for_function("() => document.querySelector('select[name=provider]').value === 'anthropic'")
    assert page.input_value("input[name=model]") == ""
    page.go_back()
    page.wait_for_function("() => !location.search.includes('provider=')")
    page.wait_for_function("() => document.querySelector('select[name=provider]').value === ''")
    page.wait_for_function("() => !document.querySelector('[data-stats-filtered]')")

    # Keyboard: j j moves to the second row, Enter opens it, Esc closes, / searches, ? lists the keys.
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")
    page.keyboard.press("j")
    second = page.locator("#request-table tbody tr").nth(1).get_attribute("data-request-id")
    assert page.locator("#request-table tbody tr.cursor").get_attribute("data-request-id") == second
    page.keyboard.press("Enter")
    page.wait_for_selector(f".drawer[data-request-id='{second}']")
    page.keyboard.press("j")
    third = page.locator("#request-table tbody tr").nth(2).get_attribute("data-request-id")
    page.wait_for_selector(f".drawer[data-request-id='{third}']")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('.drawer')")
    page.keyboard.press("?")
    assert page.locator("#shortcut-help").is_visible()
    page.screenshot(path=str(SHOTS / "requests-shortcuts.png"))
    page.keyboard.press("Escape")
    assert not page.locator("#shortcut-help").is_visible()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.press("Escape")

    # Live tail: a call through the proxy shows up at the top without a reload.
    page.click("[data-live-tail]")
    page.wait_for_selector("[data-live-tail][data-state=live]")
    page.evaluate("window.__sameDocument = true")
    before = page.locator("#request-table tbody tr[data-request-id]").count()
    with openai.OpenAI(base_url=f"{spanlens_server.url}/proxy/openai/v1", api_key=sl_key, max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "live one"}])
    page.wait_for_selector("#request-table tbody tr.arrived", timeout=10_000)
    first = page.locator("#request-table tbody tr").first
    assert "gpt-4o-mini" in first.inner_text()
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert page.locator("#request-table tbody tr[data-request-id]").count() == before + 1
    assert first.get_attribute("data-pos") == "0"
    assert page.locator("#request-table tbody tr").nth(1).get_attribute("data-pos") == "1"
    assert "of 31" in page.locator("[data-range]").inner_text()
    page.screenshot(path=str(SHOTS / "requests-live.png"))
    # The new row opens like any other.
    first.click()
    page.wait_for_selector(".drawer[data-request-id]")
    assert "live one" in page.locator(".drawer").inner_text()
    page.keyboard.press("Escape")
    # A filter the new call does not match keeps it out.
    page.select_option("select[name=provider]", "anthropic")
    page.wait_for_url(re.compile(r"provider=anthropic"))
    page.wait_for_selector("[data-live-tail][data-state=live]")
    with openai.OpenAI(base_url=f"{spanlens_server.url}/proxy/openai/v1", api_key=sl_key, max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "not for this view"}])
    page.wait_for_timeout(800)
    assert "not for this view" not in page.content()
    assert all("claude" in t for t in page.locator("#request-table td.model").all_inner_texts())
    assert rows  # seeded rows stay visible under the filter
    page.close()


def test_a_socket_without_a_session_is_refused(spanlens_server):
    import asyncio

    import websockets

    async def attempt():
        url = spanlens_server.url.replace("http", "ws") + "/ws/requests/"
        async with websockets.connect(url, origin=spanlens_server.url) as socket:
            await socket.recv()

    with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
        asyncio.run(attempt())
    assert closed.value.rcvd.code == 4401


# Pages that must fit a phone and a wide desk: (name, path).
PAGES = [
    ("requests", "/requests/"), ("traces", "/traces"), ("trace-waterfall", None), ("users", "/users/"),
    ("prompts", "/prompts/"), ("evals", "/evals/"), ("settings", "/settings/provider-keys/"),
    ("audit-log", "/settings/audit/"),
]


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_the_main_pages_fit_from_375_to_1920_px(spanlens_server, live_db, owner, org, project, browser):
    from evals import prompt_services
    from spanlens.core import audit, services
    from tests.test_traces_pages import seed_agent_trace

    key = services.add_provider_key(project, "openai", "sk-test-1234567890", "OpenAI production")
    services.create_project(org, "Staging")  # a second project puts the project select in the toolbar
    seed_requests(org, project, str(key.id), count=12)
    trace_id, _, _ = seed_agent_trace(org, project)
    prompt_services.create_prompt(org, project, "support-reply", template="Answer {{question}} politely.", actor=owner)
    audit.record(org, "provider_key.create", actor=owner, ip="203.0.113.7", target=key,
                 details={"provider": "openai", "name": "OpenAI production", "note": "x" * 180})
    pages = [(name, path or f"/traces/{trace_id}") for name, path in PAGES]
    spilled = []

    for width, height in ((375, 812), (1920, 1080)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        sign_in(page, spanlens_server)
        for name, path in pages:
            page.goto(f"{spanlens_server.url}{path}")
            page.screenshot(path=str(SHOTS / f"fit-{name}-{width}.png"), full_page=True)
            if not no_sideways_scroll(page):
                spilled.append(f"{name} at {width} px")
            if name == "requests":
                widths = [c["width"] for c in page.eval_on_selector_all(".stat", "els => els.map(e => e.getBoundingClientRect().toJSON())")]
                assert min(widths) >= 140, f"stat cells crushed at {width} px: {widths}"
                apply_box = page.locator("#filters button[type=submit]").bounding_box()
                refresh_box = page.locator("[data-refresh]").bounding_box()
                assert abs(apply_box["y"] - refresh_box["y"]) < 2, "the refresh button wrapped away from Apply"
                page.locator("#request-table tbody tr").first.click()
                page.wait_for_selector(".drawer[data-request-id]")
                page.wait_for_timeout(300)  # the slide-in animation
                page.screenshot(path=str(SHOTS / f"fit-drawer-{width}.png"))
                box = page.locator(".drawer").bounding_box()
                assert box["x"] >= -1 and box["x"] + box["width"] <= width + 1
        context.close()
    assert not spilled, f"pages that scroll sideways: {spilled}"

    # Between the two: 420 px (stat cells) and 1440 px (the audit log, the toolbar with two projects).
    context = browser.new_context(viewport={"width": 420, "height": 900})
    page = context.new_page()
    sign_in(page, spanlens_server)
    widths = [c["width"] for c in page.eval_on_selector_all(".stat", "els => els.map(e => e.getBoundingClientRect().toJSON())")]
    assert min(widths) >= 150
    page.screenshot(path=str(SHOTS / "fit-requests-420.png"))
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{spanlens_server.url}/settings/audit/")
    assert no_sideways_scroll(page)
    page.goto(f"{spanlens_server.url}/requests/")
    assert abs(page.locator("#filters button[type=submit]").bounding_box()["y"]
               - page.locator("[data-refresh]").bounding_box()["y"]) < 2
    page.screenshot(path=str(SHOTS / "fit-requests-1440.png"))
    context.close()


def test_the_404_page_sits_in_the_layout(spanlens_server, live_db, owner, org, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    sign_in(page, spanlens_server)
    response = page.goto(f"{spanlens_server.url}/no-such-page/")
    assert response.status == 404
    assert page.locator("[data-error-page='404']").is_visible() and page.locator(".sidebar .switcher").is_visible()
    page.screenshot(path=str(SHOTS / "error-404.png"))
    icon = page.goto(f"{spanlens_server.url}/favicon.ico")
    assert icon.status == 200 and "svg" in icon.headers["content-type"]
    page.close()


def test_a_socket_hears_only_its_own_organization(spanlens_server, live_db, owner, outsider, org, project,
                                                   other_org_and_project):
    import asyncio
    import json

    import websockets
    from django.test import Client

    from dashboard import live
    from spanlens.requestlog import queries

    def cookie(user) -> str:
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}"

    mine = make_row(org, project, model="gpt-4o-mini", status_code=200)
    other_org, other_project = other_org_and_project
    theirs = make_row(other_org, other_project, model="outsider-secret-model", status_code=200)
    queries.insert_requests([mine, theirs])
    owner_cookie, outsider_cookie = cookie(owner), cookie(outsider)

    async def watch():
        url = spanlens_server.url.replace("http", "ws") + "/ws/requests/"
        async with websockets.connect(url, origin=spanlens_server.url, additional_headers={"Cookie": owner_cookie}) as a, \
                websockets.connect(url, origin=spanlens_server.url, additional_headers={"Cookie": outsider_cookie}) as b:
            assert json.loads(await a.recv())["type"] == "ready"
            assert json.loads(await b.recv())["type"] == "ready"
            # What the writer thread does after a batch: both organizations' rows at once.
            await asyncio.get_running_loop().run_in_executor(None, live.announce, [mine, theirs])
            got_a = json.loads(await asyncio.wait_for(a.recv(), 5))
            got_b = json.loads(await asyncio.wait_for(b.recv(), 5))
            return got_a, got_b

    got_a, got_b = asyncio.run(watch())
    assert got_a["ids"] == [mine["id"]] and "outsider-secret-model" not in got_a["html"]
    assert got_b["ids"] == [theirs["id"]] and "gpt-4o-mini" not in got_b["html"]


def test_a_socket_from_another_site_is_refused(spanlens_server, monkeypatch):
    import asyncio

    import websockets

    from spanlens.asgi import router

    # The validator takes ALLOWED_HOSTS as the app was imported; pin a server install's own name.
    validator = router.application_mapping["websocket"]
    monkeypatch.setattr(validator, "allowed_origins", ["127.0.0.1"])

    async def attempt():
        url = spanlens_server.url.replace("http", "ws") + "/ws/requests/"
        async with websockets.connect(url, origin="https://evil.example"):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatus):
        asyncio.run(attempt())


def test_the_replay_list_narrows_as_you_type(spanlens_server, live_db, owner, org, project, browser):
    from spanlens.core import services

    key = services.add_provider_key(project, "openai", "sk-test-1234567890", "OpenAI production")
    rows = seed_requests(org, project, str(key.id), count=2)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    sign_in(page, spanlens_server)
    page.goto(f"{spanlens_server.url}/requests/{rows[1]['id']}/")
    page.click("[data-replay]")
    page.wait_for_selector("[data-replay-modal]")
    groups = page.locator("[data-replay-model] optgroup").evaluate_all("gs => gs.map(g => g.label)")
    assert groups[0] == "Original" and "GPT-4o" in groups
    assert page.input_value("[data-replay-model]") == "gpt-4o-mini-2024-07-18"
    page.fill("[data-replay-search]", "4.1 nano")
    assert page.input_value("[data-replay-model]").startswith("gpt-4.1-nano")
    shown = page.locator("[data-replay-model] option:not([hidden])").all_inner_texts()
    assert shown and all("4.1-nano" in s for s in shown)
    page.screenshot(path=str(SHOTS / "replay-search.png"))
    page.close()
