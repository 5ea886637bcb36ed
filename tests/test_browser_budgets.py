"""/budgets in a real Chromium, as a new user tries it: a $1/day budget for one end user,
spend against it, a bad amount, and the proxy refusing that user's next call while
another user's goes through."""
from __future__ import annotations

from datetime import datetime, timezone

import openai
import pytest

from tests.seed import make_row
from tests.test_browser_requests import CHROMIUM, SHOTS, browser_page, pytestmark, sign_in  # noqa: F401


def spend(org, project, user: str, usd: str) -> dict:
    return make_row(org, project, provider="openai", model="gpt-4o-mini-2024-07-18", status_code=200,
                    user_id=user, cost_usd=usd, created_at=datetime.now(timezone.utc))


def test_a_user_budget_is_set_shown_and_enforced(spanlens_server, live_db, upstream, provider_keys, owner, org,
                                                 project, other_org_and_project, openai_client, browser_page):
    from spanlens.requestlog import queries

    page = browser_page
    other_org, other_project = other_org_and_project
    queries.insert_requests([spend(org, project, "alice", "0.85"), spend(org, project, "bob", "0.30"),
                             spend(org, project, "carol", "0.12"),
                             spend(other_org, other_project, "outsider-eve", "9.00")])

    sign_in(page, spanlens_server)
    page.click("nav.nav a[href='/budgets/']")
    page.wait_for_selector("#budgets .empty-row")
    page.screenshot(path=str(SHOTS / "budgets-empty.png"), full_page=True)

    # A typo in the amount: the form says so, keeps what was typed, and nothing is created.
    page.select_option("#add-budget select[name=scope]", "user")
    page.fill("#add-budget input[name=user_id]", "alice")
    page.fill("#add-budget input[name=limit]", "one dollar")
    page.click("#add-budget button")
    page.wait_for_selector("[data-form-error]")
    assert "must be a number" in page.inner_text("[data-form-error]")
    assert page.input_value("#add-budget input[name=user_id]") == "alice"
    page.screenshot(path=str(SHOTS / "budgets-form-error.png"), full_page=True)

    page.fill("#add-budget input[name=limit]", "1")
    page.select_option("#add-budget select[name=metric]", "usd_day")
    page.click("#add-budget button")
    row = page.locator("#budgets tr", has_text="User alice")
    row.wait_for()
    assert row.locator("[data-used]").inner_text() == "$0.85"
    assert row.locator("[data-percent]").inner_text() == "85 %"
    assert row.locator(".budget-bar.near").count() == 1

    # Each end user on their own, and a request rate for the project.
    page.select_option("#add-budget select[name=scope]", "user")
    page.fill("#add-budget input[name=limit]", "2")
    page.click("#add-budget button")
    page.locator("#budgets tr", has_text="Each end user").wait_for()
    page.select_option("#add-budget select[name=scope]", "project")
    page.select_option("#add-budget select[name=project_id]", str(project.id))
    page.select_option("#add-budget select[name=metric]", "rpm")
    page.fill("#add-budget input[name=limit]", "600")
    page.click("#add-budget button")
    page.locator("#budgets tr", has_text="Project Default").wait_for()
    assert "outsider-eve" not in page.content()

    # alice at $0.85 of $1: her next call still goes through and is counted.
    assert openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-spanlens-user": "alice"}).choices
    # Lowered to $0.80 in place: alice is over, her next call is refused; bob's goes through.
    row.locator("input[name=limit]").fill("0.80")
    row.locator("button", has_text="Save").click()
    page.locator("#budgets tr", has_text="User alice").locator(".budget-bar.over").wait_for()
    with pytest.raises(openai.RateLimitError) as refused:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                              extra_headers={"x-spanlens-user": "alice"})
    assert "user alice" in refused.value.response.json()["error"]
    assert int(refused.value.response.headers["retry-after"]) >= 1
    assert openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-spanlens-user": "bob"}).choices
    page.reload()
    page.locator("#budgets tr", has_text="Each end user").locator(".budget-user", has_text="alice").wait_for()
    page.screenshot(path=str(SHOTS / "budgets.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#budgets tr", has_text="Project Default").locator("button", has_text="Remove").click()
    page.locator("#budgets tr", has_text="Project Default").wait_for(state="detached")
