"""The main pages under the Content-Security-Policy, in Chromium: nothing is blocked,
and what used to be inline handlers (confirmations, auto-submitting selects, row
links) still works. Also the sign-in lockout and an invitation refusal as a person sees them."""
from __future__ import annotations

import os
import re

import pytest

from spanlens.core import members, services
from spanlens.core.models import ApiKey, AuditEvent
from tests.seed import seed
from tests.test_browser_requests import SHOTS, sign_in
from tests.test_traces_pages import seed_agent_trace

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")

# Every violation the page sees, from the DOM event (console text is the fallback).
WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e =>
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile + ':' + e.lineNumber));
"""


@pytest.fixture
def watched(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_init_script(WATCH)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)

        def violations() -> list[str]:
            return page.evaluate("window.__cspViolations || []") + console

        page.violations = violations
        yield page
        # ORM calls made while Playwright's loop runs open their own connection: close
        # it here, or the test database cannot be dropped at the end of the run.
        from django.db import connections

        connections.close_all()
        browser.close()


def test_the_main_pages_run_under_the_policy_without_a_violation(
    spanlens_server, live_db, owner, org, project, watched
):
    page, base = watched, spanlens_server.url
    rows = seed(org, project, 60, user_id="customer-7")
    trace_id, _, _ = seed_agent_trace(org, project)
    services.create_api_key(project, name="ci")
    seen: dict[str, list[str]] = {}

    sign_in(page, spanlens_server)
    page.wait_for_selector("#request-table tbody tr[data-request-id]")
    # htmx: the drawer opens in place, the filter form refreshes the list.
    page.click("#request-table tbody tr[data-request-id] a.row-link")
    page.wait_for_selector(".drawer[data-request-id]")
    page.keyboard.press("Escape")
    page.fill("input[name=model]", "gpt")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"model=gpt"))
    seen["/requests/"] = page.violations()

    for path in ("/users/", "/traces", f"/traces/{trace_id}", f"/requests/{rows[1]['id']}/",
                 "/settings/projects/", "/settings/provider-keys/", "/settings/members/", "/settings/audit/"):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        seen[path] = page.violations()
    page.screenshot(path=str(SHOTS / "csp-audit.png"), full_page=True)

    # A users-table row is a link again, without its inline onclick.
    page.goto(f"{base}/users/")
    page.click("tr[data-user-id=customer-7] td:last-child")
    page.wait_for_url(re.compile(r"/requests/\?userId=customer-7"))

    # Confirmations: dismissing keeps the key, accepting revokes it.
    page.goto(f"{base}/settings/api-keys/")
    page.once("dialog", lambda d: d.dismiss())
    page.click("form[data-confirm] button")
    assert ApiKey.objects.filter(name="ci", revoked_at=None).exists()
    page.once("dialog", lambda d: d.accept())
    page.click("form[data-confirm] button")
    page.wait_for_load_state("networkidle")
    assert not ApiKey.objects.filter(name="ci", revoked_at=None).exists()
    seen["/settings/api-keys/"] = page.violations()

    # The audit log's action select submits itself.
    page.goto(f"{base}/settings/audit/")
    page.select_option("select[name=action]", "api_key.revoke")
    page.wait_for_url(re.compile(r"action=api_key.revoke"))
    seen["audit filter"] = page.violations()

    assert {path: found for path, found in seen.items() if found} == {}

    # The watcher does notice a violation: an injected inline script is blocked and reported.
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
                  " document.body.appendChild(s); }")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.ran") is None
    assert any(v.startswith("script-src") for v in page.violations())


def test_a_locked_out_sign_in_says_why(spanlens_server, live_db, owner, org, watched):
    page, base = watched, spanlens_server.url
    page.goto(f"{base}/login/")
    for _ in range(5):
        page.fill("input[name=username]", "owner")
        page.fill("input[name=password]", "not-my-password")
        page.click("button[type=submit]")
        page.wait_for_load_state()
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "pw-owner-123")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-locked-out]")
    assert "Too many failed sign-ins" in page.locator("[data-locked-out]").inner_text()
    assert "/login/" in page.url
    page.screenshot(path=str(SHOTS / "login-locked-out.png"), full_page=True)
    assert AuditEvent.objects.filter(organization=org, action="auth.lockout").count() == 1
    assert page.violations() == []


def test_someone_elses_invitation_is_refused_in_the_browser(
    spanlens_server, live_db, owner, org, outsider, other_org_and_project, watched, settings
):
    page, base = watched, spanlens_server.url
    settings.WEB_URL = base
    link = members.invite(org, "carol@example.com", "admin", invited_by=owner).accept_url
    sign_in(page, spanlens_server, "outsider", "pw-outsider-123")
    page.goto(link)
    assert page.locator("[data-wrong-account]").is_visible()
    page.screenshot(path=str(SHOTS / "invite-wrong-account.png"), full_page=True)
    page.click("text=Sign out and use the invited account")
    page.wait_for_selector("[data-signup-form]")
    assert page.url == link
    assert page.violations() == []
