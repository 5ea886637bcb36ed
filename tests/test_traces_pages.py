"""The trace pages in a real browser: the list, the waterfall, the span panel."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client

from spanlens.traces import services

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def seed_agent_trace(org, project) -> tuple[uuid.UUID, dict[str, uuid.UUID], uuid.UUID]:
    trace_id = uuid.uuid4()
    ids = {name: uuid.uuid4() for name in
           ("agent", "plan", "vector-search", "embed-query", "lookup_order", "check_inventory", "gpt-4o-mini")}

    def span(name, kind, start, end, parent=None, **extra):
        return {"id": ids[name], "trace_id": trace_id, "parent_span_id": ids[parent] if parent else None,
                "name": name, "span_type": kind, "status": extra.pop("status", "completed"),
                "started_at": at(start), "ended_at": at(end), **extra}

    services.ingest(
        organization_id=org.id, project_id=project.id,
        traces=[{"id": trace_id, "name": "support-agent", "status": "error", "user_id": "cust-42",
                 "session_id": "chat-7", "started_at": at(0), "ended_at": at(2400)}],
        spans=[
            span("agent", "custom", 0, 2400, input={"question": "Where is order A-1?"}),
            span("plan", "custom", 10, 150, parent="agent"),
            span("vector-search", "retrieval", 150, 600, parent="agent", output={"documents": 3}),
            span("embed-query", "embedding", 160, 260, parent="vector-search"),
            span("lookup_order", "tool", 620, 1100, parent="agent", input={"order": "A-1"},
                 output={"status": "shipped"}),
            span("check_inventory", "tool", 630, 1400, parent="agent", status="error",
                 error="TimeoutError: inventory service did not answer in 750 ms"),
            span("gpt-4o-mini", "llm", 1450, 2350, parent="agent",
                 input={"messages": [{"role": "user", "content": "Where is order A-1?"}]},
                 output={"role": "assistant", "content": "Order A-1 shipped on Monday."}),
        ],
    )
    request_id = uuid.uuid4()
    services.link_request_to_span(org.id, trace_id, ids["gpt-4o-mini"], request_id, "gpt-4o-mini",
                                  412, 38, 450, Decimal("0.00008460"))
    for i in range(4):
        other = uuid.uuid4()
        services.ingest(
            organization_id=org.id, project_id=project.id,
            traces=[{"id": other, "name": f"nightly-digest-{i}", "status": "completed",
                     "started_at": at(-60_000 * (i + 1)), "ended_at": at(-60_000 * (i + 1) + 800 * (i + 1))}],
            spans=[{"id": uuid.uuid4(), "trace_id": other, "name": "summarise", "span_type": "llm",
                    "status": "completed", "started_at": at(-60_000 * (i + 1)),
                    "ended_at": at(-60_000 * (i + 1) + 700 * (i + 1)), "total_tokens": 100 * (i + 1),
                    "cost_usd": Decimal("0.0001") * (i + 1)}],
        )
    return trace_id, ids, request_id


@pytest.fixture
def seeded(live_db, org, project):
    # Written before the browser starts: Playwright's sync API runs an event loop in this thread.
    return seed_agent_trace(org, project)


@pytest.fixture
def browser_page(seeded, spanlens_server, owner):
    from playwright.sync_api import sync_playwright

    django_client = Client()
    django_client.force_login(owner)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": django_client.cookies["sessionid"].value,
                              "url": spanlens_server.url}])
        yield context.new_page()
        browser.close()


def test_the_waterfall_shows_the_tree_on_one_time_axis(seeded, spanlens_server, browser_page):
    trace_id, ids, request_id = seeded
    page = browser_page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{spanlens_server.url}/traces")
    row = page.locator(f"tr[data-trace-id='{trace_id}']")
    assert "support-agent" in row.inner_text() and "Error" in row.inner_text()
    assert "450" in row.inner_text() and "$0.0000846" in row.inner_text()  # tokens and cost from the proxy link
    page.screenshot(path=str(SCREENSHOTS / "traces-list.png"), full_page=True)

    page.locator("th a", has_text="Cost").click()  # most expensive first, then cheapest first
    page.wait_for_url("**sort=-cost**")
    assert page.locator("tbody .tr-name").first.inner_text() == "nightly-digest-3"
    page.locator("th a", has_text="Cost").click()
    page.wait_for_url("**sort=cost**")
    assert page.locator("tbody .tr-name").first.inner_text() == "support-agent"

    page.fill("input[name=name]", "support")
    page.locator("button", has_text="Filter").click()
    page.wait_for_url("**name=support**")
    assert page.locator("tbody tr").count() == 1

    row.locator("a.tr-name").click()
    page.wait_for_url(f"**/traces/{trace_id}")
    rows = page.locator(".wf-row")
    assert rows.count() == 7
    names = [n.strip() for n in page.locator(".wf-row .wf-name").all_inner_texts()]
    assert names == ["agent", "plan", "vector-search", "embed-query", "lookup_order", "check_inventory",
                     "gpt-4o-mini"]

    def bar(name):
        return page.locator(f".wf-row[data-span-id='{ids[name]}'] .wf-bar")

    assert bar("agent").get_attribute("style") == "left:0.0%; width:100.0%"
    assert bar("gpt-4o-mini").get_attribute("style") == "left:60.417%; width:37.5%"
    assert "error" in bar("check_inventory").get_attribute("class")
    indent = page.locator(f".wf-row[data-span-id='{ids['embed-query']}'] .wf-label").evaluate(
        "el => getComputedStyle(el).paddingLeft")
    assert indent == "46px"  # two levels deep

    page.locator(f".wf-row[data-span-id='{ids['gpt-4o-mini']}']").click()
    panel = page.locator("#span-detail")
    panel.locator("text=Order A-1 shipped on Monday.").wait_for()
    assert "412 in · 38 out · 450 total" in panel.inner_text()
    assert panel.locator("a", has_text=str(request_id)).get_attribute("href") == f"/requests/{request_id}/"
    page.screenshot(path=str(SCREENSHOTS / "trace-waterfall.png"), full_page=True)

    page.locator(f".wf-row[data-span-id='{ids['check_inventory']}']").click()
    panel.locator("text=inventory service did not answer").wait_for()
