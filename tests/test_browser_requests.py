"""The /requests page in a real Chromium: sign in, filter, sort, drawer, Prev/Next, tabs."""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.seed import make_row, seed

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # test makes around it are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        yield page
        browser.close()


def sign_in(page, server, username="owner", password="pw-owner-123"):
    page.goto(f"{server.url}/requests/")
    assert "/login/" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/requests/"))


def test_a_user_filters_sorts_and_reads_requests(spanlens_server, live_db, owner, org, project,
                                                   other_org_and_project, browser_page):
    from spanlens.core import services

    page = browser_page
    key = services.add_provider_key(project, "openai", "sk-test-1234567890", "OpenAI production")
    now = datetime.now(timezone.utc)
    seed(org, project, 400, provider_key_id=str(key.id), user_id="customer-42")
    # 60 mini rows a few seconds apart, with distinct costs, so sorting by cost is checkable.
    from spanlens.requestlog import queries

    minis = [
        make_row(org, project, provider="openai", model="gpt-4o-mini-2024-07-18", status_code=200,
                 created_at=now - timedelta(minutes=i), cost_usd=f"{0.001 * (i + 1):.8f}",
                 provider_key_id=str(key.id), trace_id="0b7e5c1a-3c1b-4c9e-9d53-6f3f5e0f0a11" if i == 0 else None)
        for i in range(60)
    ]
    queries.insert_requests(minis)
    other_org, other_project = other_org_and_project
    queries.insert_requests([make_row(other_org, other_project, model="outsider-secret-model")])

    sign_in(page, spanlens_server)
    page.wait_for_selector("#request-table tbody tr[data-request-id]")
    page.screenshot(path=str(SHOTS / "requests.png"), full_page=True)
    assert page.locator(".stat").count() == 5
    assert "outsider-secret-model" not in page.content()

    # Filter by model: the table and the URL follow.
    page.fill("input[name=model]", "MINI")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"model=MINI"))
    page.wait_for_function(
        "() => [...document.querySelectorAll('#request-table td.model')].every(td => td.textContent.includes('mini'))"
    )
    # Sort by cost, most expensive first.
    page.click("a[data-sort=cost_usd]")
    page.wait_for_url(re.compile(r"sortBy=cost_usd"))
    page.wait_for_selector("th.sorted a[data-sort=cost_usd]")
    costs = [float(t.strip("$")) for t in page.locator("#request-table tbody td:nth-child(6)").all_inner_texts()]
    assert costs == sorted(costs, reverse=True)
    assert costs[0] == pytest.approx(0.06)
    page.screenshot(path=str(SHOTS / "requests-filtered-sorted.png"), full_page=True)

    # Back restores the unsorted filtered view.
    page.go_back()
    page.wait_for_function("() => !location.search.includes('sortBy=cost_usd')")

    # Newest first, limit 50: open the last row of page 1 and step into page 2.
    page.goto(f"{spanlens_server.url}/requests/?model=mini")
    page.locator("#request-table tbody tr").nth(49).click()
    page.wait_for_selector(".drawer[data-request-id]")
    assert page.locator(".drawer").bounding_box()["width"] == pytest.approx(480, abs=0.5)
    first_id = page.locator(".drawer").get_attribute("data-request-id")
    assert first_id == minis[49]["id"]
    page.click(".drawer [data-nav=next]")
    page.wait_for_selector(f".drawer[data-request-id='{minis[50]['id']}']")
    page.wait_for_url(re.compile(r"page=2"))
    page.wait_for_selector(f"#request-table tr.selected[data-request-id='{minis[50]['id']}']")
    page.click(".drawer [data-nav=prev]")
    page.wait_for_selector(f".drawer[data-request-id='{minis[49]['id']}']")
    page.wait_for_function("() => !location.search.includes('page=2')")
    page.click(".drawer [data-close-drawer].btn")

    # The newest mini row has a trace and a conversation.
    page.locator("#request-table tbody tr").first.click()
    page.wait_for_selector(f".drawer[data-request-id='{minis[0]['id']}']")
    assert "Please help with the" in page.locator(".drawer .msg-user").first.inner_text()
    page.screenshot(path=str(SHOTS / "drawer-request.png"))
    page.click(".drawer [data-tab=trace]")
    assert page.locator(".drawer a[data-trace-link]").get_attribute("href").startswith("/traces/0b7e5c1a")
    page.click(".drawer [data-tab=raw]")
    assert '"messages"' in page.locator(f"#raw-request-{minis[0]['id']}").inner_text()
    page.screenshot(path=str(SHOTS / "drawer-raw.png"))

    # A row without a trace shows the help note.
    page.click(".drawer [data-nav=next]")
    page.wait_for_selector(f".drawer[data-request-id='{minis[1]['id']}']")
    page.click(".drawer [data-tab=trace]")
    assert page.locator(".drawer [data-trace-help]").is_visible()
    page.screenshot(path=str(SHOTS / "drawer-trace-help.png"))


def test_settings_and_users_pages_render(spanlens_server, live_db, owner, org, project, browser_page):
    page = browser_page
    sign_in(page, spanlens_server)
    # A new organization: the empty state says how to send the first call.
    page.wait_for_selector(".empty-row")
    assert "Point an SDK" in page.locator(".empty-row").inner_text()
    page.screenshot(path=str(SHOTS / "requests-empty.png"))
    rows = seed(org, project, 120, user_id="customer-7")
    page.goto(f"{spanlens_server.url}/requests/{rows[0]['id']}/")
    page.wait_for_selector(".meta-grid")
    page.screenshot(path=str(SHOTS / "request-detail.png"), full_page=True)
    page.goto(f"{spanlens_server.url}/users/")
    page.wait_for_selector("tr[data-user-id=customer-7]")
    page.screenshot(path=str(SHOTS / "users.png"), full_page=True)
    page.goto(f"{spanlens_server.url}/settings/api-keys/")
    page.fill("input[name=name]", "backend")
    page.click("form.inline-form button.btn-primary")
    page.wait_for_selector("[data-new-key] code")
    assert page.locator("[data-new-key] code").inner_text().startswith("sl_live_")
    page.screenshot(path=str(SHOTS / "settings-api-keys.png"), full_page=True)
    page.goto(f"{spanlens_server.url}/settings/provider-keys/")
    page.screenshot(path=str(SHOTS / "settings-provider-keys.png"), full_page=True)


def test_replay_runs_from_the_drawer(spanlens_server, live_db, owner, org, project, upstream, provider_keys,
                                     browser_page):
    import orjson

    from spanlens.requestlog import queries

    page = browser_page
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "Say hi"}]}
    row = make_row(org, project, provider="openai", model="gpt-4o-mini-2024-07-18", status_code=200,
                   endpoint="v1/chat/completions", request_body=orjson.dumps(body).decode(),
                   provider_key_id=str(provider_keys["openai"].id))
    queries.insert_requests([row])
    sign_in(page, spanlens_server)
    page.locator(f"tr[data-request-id='{row['id']}']").click()
    page.click(".drawer [data-replay]")
    page.wait_for_selector("[data-replay-modal]")
    options = page.locator("[data-replay-model] option").all_inner_texts()
    assert options[0] == "gpt-4o-mini (original)"
    page.select_option("[data-replay-model]", "gpt-4o")
    page.click("[data-replay-curl]")
    page.wait_for_selector("[data-replay-snippet]:not([hidden])")
    assert "$SPANLENS_API_KEY" in page.locator("[data-replay-snippet]").inner_text()
    page.click("[data-replay-run]")
    page.wait_for_selector("[data-replay-card]")
    card = page.locator("[data-replay-card]").inner_text()
    assert "1,200 in · 300 out" in card and "gpt-4o-2024-08-06" in card.lower()
    page.screenshot(path=str(SHOTS / "replay.png"))
    assert upstream.last().json["model"] == "gpt-4o"


def test_a_viewer_sees_read_only_settings(spanlens_server, live_db, viewer, org, project, browser_page):
    from spanlens.core import services

    services.add_provider_key(project, "anthropic", "sk-ant-viewer-test-9999", "Anthropic prod")
    page = browser_page
    sign_in(page, spanlens_server, "viewer", "pw-viewer-123")
    page.goto(f"{spanlens_server.url}/settings/provider-keys/")
    assert page.locator("[data-readonly]").is_visible()
    assert page.locator("form button.btn-primary").count() == 0
    assert "sk-ant-viewer" not in page.content()
    page.screenshot(path=str(SHOTS / "settings-viewer.png"))
