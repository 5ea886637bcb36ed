"""The invitation flow in a real browser: an owner invites, a new person accepts
by creating an account, and as a viewer they can change nothing.
Screenshots land in test-output/screenshots/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from spanlens.core.models import AuditEvent, Invitation, Membership

SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser(monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls
    # in the test body are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()


def session_for(browser, server_url: str, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server_url}])
    return context


def post_as_page(page, path: str, form: dict) -> int:
    """A write sent from inside the signed-in page (session + CSRF token), as a crafted form would."""
    return page.evaluate(
        """async ([path, form]) => {
            const csrf = document.querySelector('input[name=csrfmiddlewaretoken]')?.value
                || document.cookie.split('; ').find(c => c.startsWith('csrftoken='))?.split('=')[1];
            const body = new URLSearchParams(form);
            const r = await fetch(path, {method: 'POST', body, headers: {'X-CSRFToken': csrf}});
            return r.status;
        }""",
        [path, form],
    )


def test_invite_accept_as_new_user_and_viewer_cannot_change_anything(
    browser, spanlens_server, live_db, owner, org, settings
):
    settings.WEB_URL = spanlens_server.url
    base = spanlens_server.url

    # 1. The owner invites a viewer; without an email provider the page shows the link.
    owner_page = session_for(browser, base, owner).new_page()
    owner_page.goto(f"{base}/settings/members/")
    owner_page.screenshot(path=str(SHOTS / "members-01-owner.png"), full_page=True)
    owner_page.fill("input[name=email]", "vera@example.com")
    owner_page.select_option("[data-invite-form] select[name=role]", "viewer")
    owner_page.click("text=Send invitation")
    link = owner_page.locator("[data-accept-url]").inner_text().strip()
    assert link.startswith(f"{base}/invite/")
    owner_page.screenshot(path=str(SHOTS / "members-02-invited.png"), full_page=True)
    assert owner_page.locator("[data-invitation='vera@example.com']").count() == 1

    # 2. Vera opens the link, signs up and joins.
    vera = browser.new_context().new_page()
    vera.goto(link)
    assert "Join Acme" in vera.locator("h1").inner_text()
    vera.screenshot(path=str(SHOTS / "invite-01-accept.png"), full_page=True)
    vera.fill("[data-signup-form] input[name=username]", "vera")
    vera.fill("[data-signup-form] input[name=password]", "correct-horse-battery")
    vera.fill("[data-signup-form] input[name=password2]", "correct-horse-battery")
    vera.click("text=Create account and join")
    # "/" sends a signed-in member on to the request log.
    vera.wait_for_url(re.compile(re.escape(base) + r"/(requests/)?$"))
    membership = Membership.objects.get(user__username="vera", organization=org)
    assert membership.role == "viewer"
    assert Invitation.objects.get().status == "accepted"

    # 3. As a viewer: the page is read-only, and crafted writes are refused.
    vera.goto(f"{base}/settings/members/")
    assert vera.locator("[data-invite-form]").count() == 0
    assert vera.locator("[data-members] select").count() == 0
    assert vera.locator("[data-readonly]").is_visible()
    vera.screenshot(path=str(SHOTS / "members-03-viewer.png"), full_page=True)
    owner_membership = Membership.objects.get(user=owner)
    assert post_as_page(vera, "/settings/members/invite", {"email": "x@example.com", "role": "admin"}) == 403
    assert post_as_page(vera, f"/settings/members/{owner_membership.id}/role", {"role": "viewer"}) == 403
    assert post_as_page(vera, f"/settings/members/{membership.id}/role", {"role": "owner"}) == 403
    assert post_as_page(vera, f"/settings/members/{owner_membership.id}/remove", {}) == 403
    api = vera.evaluate("""async () => {
        const csrf = document.cookie.split('; ').find(c => c.startsWith('csrftoken='))?.split('=')[1];
        const r = await fetch('/api/v1/invitations', {method: 'POST', headers: {'X-CSRFToken': csrf,
            'Content-Type': 'application/json'}, body: JSON.stringify({email: 'y@example.com', role: 'admin'})});
        return [r.status, await r.json()];
    }""")
    assert api[0] == 403 and api[1]["success"] is False
    assert vera.goto(f"{base}/settings/audit/").status == 403
    assert Invitation.objects.count() == 1
    assert Membership.objects.get(pk=membership.pk).role == "viewer"
    assert Membership.objects.get(pk=owner_membership.pk).role == "owner"

    # 4. The owner's audit log shows the invitation and the join.
    owner_page.goto(f"{base}/settings/audit/")
    assert owner_page.locator("[data-action='member.invite']").count() == 1
    assert owner_page.locator("[data-action='member.join']").count() == 1
    owner_page.screenshot(path=str(SHOTS / "audit-01-owner.png"), full_page=True)
    assert AuditEvent.objects.get(action="member.join").actor_label == "vera"
