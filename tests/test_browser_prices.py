"""Tool calls in the drawer and the unpriced-model flow in a real Chromium."""
from __future__ import annotations

import os

import pytest

from tests import mock_upstream as mock
from tests.test_browser_requests import CHROMIUM, SHOTS, browser_page, sign_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]


def test_a_user_reads_a_streamed_tool_call_and_prices_an_unpriced_model(
    spanlens_server, live_db, owner, upstream, provider_keys, openai_client, org, read_rows, browser_page
):
    list(openai_client.chat.completions.create(model="gpt-4o-mini+tools+linger", messages=MESSAGES, stream=True,
                                               tools=[{"type": "function", "function": {"name": mock.TOOL_NAME}}]))
    for _ in range(2):
        openai_client.chat.completions.create(model="acme-private-llm", messages=MESSAGES,
                                              extra_headers={"x-spanlens-user": "customer-7"})
    read_rows(org.id, expect=3)
    page = browser_page
    sign_in(page, spanlens_server)

    page.wait_for_selector("[data-unpriced-banner]")
    page.click(f"#request-table tbody tr:has-text('gpt-4o-mini') a.row-link")
    page.click("button[data-tab=response]")
    call = page.locator("[data-panel=response] [data-tool-call]")
    call.wait_for()
    assert mock.TOOL_NAME in call.inner_text() and '"city": "Paris"' in call.inner_text()
    assert page.locator("[data-error-badge]").count() == 0
    page.screenshot(path=str(SHOTS / "drawer-tool-call.png"))

    page.goto(f"{spanlens_server.url}/users/")
    assert "unpriced (2)" in page.locator("tr[data-user-id=customer-7]").inner_text()
    page.screenshot(path=str(SHOTS / "users-unpriced.png"))

    page.goto(f"{spanlens_server.url}/settings/prices/")
    row = page.locator("tr[data-unpriced-model='openai/acme-private-llm']")
    assert "2" in row.inner_text()
    page.screenshot(path=str(SHOTS / "prices-unpriced.png"), full_page=True)
    row.locator("input[name=input_per_1m]").fill("1.5")
    row.locator("input[name=output_per_1m]").fill("6")
    row.locator("button").click()
    page.wait_for_selector("text=Priced openai/acme-private-llm")
    assert page.locator("tr[data-unpriced-model='openai/acme-private-llm']").count() == 0
