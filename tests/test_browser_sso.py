"""In a real browser: "Sign in with SSO" through the local test provider and back,
a refused domain, and creating a read-only key on the keys page."""
from __future__ import annotations

import re

import pytest

from spanlens.core import sso
from tests import oidc_provider
from tests.test_browser_requests import SHOTS, browser_page, sign_in  # noqa: F401  (fixture)


@pytest.fixture
def idp(settings):
    provider = oidc_provider.OIDCProvider().start()
    settings.OIDC_ISSUER = provider.url
    settings.OIDC_RP_CLIENT_ID = oidc_provider.CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = oidc_provider.CLIENT_SECRET
    settings.OIDC_ALLOWED_EMAIL_DOMAINS = ["example.com"]
    sso.forget_discovery()
    yield provider
    sso.forget_discovery()
    provider.stop()


def test_sso_button_round_trip_and_refused_domain(spanlens_server, live_db, owner, org, idp, browser_page):
    page = browser_page
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    idp.account = {"sub": "o", "email": "owner@example.com", "email_verified": True}
    page.goto(f"{spanlens_server.url}/login/")
    page.screenshot(path=str(SHOTS / "sso-login.png"))
    page.click("[data-sso-button]")
    page.wait_for_selector("#continue")
    assert page.inner_text("#account") == "owner@example.com"
    page.screenshot(path=str(SHOTS / "sso-provider.png"))
    page.click("#continue")
    page.wait_for_url(re.compile(r"/requests/"))
    page.screenshot(path=str(SHOTS / "sso-signed-in.png"))

    page.context.clear_cookies()
    idp.account = {"sub": "m", "email": "mallory@evil.test", "email_verified": True}
    page.goto(f"{spanlens_server.url}/login/")
    page.click("[data-sso-button]")
    page.click("#continue")
    page.wait_for_selector("[data-sso-error]")
    assert "evil.test may not sign in" in page.inner_text("[data-sso-error]")
    page.screenshot(path=str(SHOTS / "sso-refused.png"))
    assert not [e for e in errors if "Content Security Policy" in e]


def test_create_a_read_only_key_in_the_browser(spanlens_server, live_db, owner, org, project, browser_page):
    page = browser_page
    sign_in(page, spanlens_server)
    page.goto(f"{spanlens_server.url}/settings/api-keys/")
    page.fill("input[name=name]", "grafana")
    for scope in ("proxy", "ingest", "admin"):
        page.uncheck(f"input[name=scopes][value={scope}]")
    page.fill("input[name=allowed_ips]", "10.0.0.0/8")
    page.click("text=Create key")
    page.wait_for_selector("[data-new-key]")
    row = page.locator("tr[data-key-prefix]", has_text="grafana")
    assert row.locator("[data-key-scopes]").inner_text().split()[0] == "read"
    page.screenshot(path=str(SHOTS / "api-keys-scoped.png"), full_page=True)
