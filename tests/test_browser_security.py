"""Security flags in a real Chromium: the badge, the drawer's Security tab, the filter, /security."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from tests.seed import seed
from tests.test_browser_requests import CHROMIUM, SHOTS, browser_page, pytestmark, sign_in  # noqa: F401
from tests.test_security_views import CARD_AND_INJECTION, EMAIL_ONLY, flagged_row


def test_a_user_sees_flags_filters_them_and_reads_them(spanlens_server, live_db, owner, org, project,
                                                        other_org_and_project, browser_page):
    from spanlens.requestlog import queries

    page = browser_page
    now = datetime.now(timezone.utc)
    seed(org, project, 30)
    queries.insert_requests([
        flagged_row(org, project, CARD_AND_INJECTION, model="gpt-4o-mini", user_id="mallory", created_at=now),
        *(flagged_row(org, project, EMAIL_ONLY, model="gpt-4o", user_id=f"user-{i}",
                      created_at=now - timedelta(hours=5 * i + 1)) for i in range(12)),
    ])
    other_org, other_project = other_org_and_project
    queries.insert_requests([flagged_row(other_org, other_project, CARD_AND_INJECTION, user_id="outsider-eve")])

    sign_in(page, spanlens_server)
    page.wait_for_selector("#request-table tbody tr[data-request-id]")
    assert page.locator("a.flag-badge[data-flag=injection]").count() == 1

    page.select_option("select[name=flag]", "injection")
    page.wait_for_url(re.compile(r"flag=injection"))
    page.wait_for_function("() => document.querySelectorAll('#request-table tbody tr[data-request-id]').length === 1")
    page.screenshot(path=str(SHOTS / "security-list.png"), full_page=True)

    page.click("a.flag-badge[data-flag=injection]")
    panel = page.locator("#drawer-root [data-panel=security]")
    panel.wait_for(state="visible")
    assert panel.locator("mark", has_text="**** **** **** 1111").count() == 1
    assert panel.locator("mark", has_text="Ignore all previous instructions").count() == 1
    page.screenshot(path=str(SHOTS / "security-drawer.png"))

    page.goto(f"{spanlens_server.url}/security/")
    page.wait_for_selector("#flag-chart svg rect.bar-pii")
    assert "outsider-eve" not in page.content()
    page.screenshot(path=str(SHOTS / "security-page.png"), full_page=True)
    page.click("#newest-flagged a.row-link >> nth=0")
    page.locator("#drawer-root [data-panel=security]").wait_for(state="visible")
