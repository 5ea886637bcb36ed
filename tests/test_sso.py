"""OpenID Connect sign-in against a local test provider (tests/oidc_provider.py):
discovery, PKCE, users by verified email, allowed domains, group → role, and
organizations that turn password sign-in off."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth import get_user_model

from spanlens.core import members, sso
from spanlens.core.models import Membership, Organization
from tests import oidc_provider


@pytest.fixture(scope="session")
def idp():
    provider = oidc_provider.OIDCProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def sso_on(settings, idp):
    settings.OIDC_ISSUER = idp.url
    settings.OIDC_RP_CLIENT_ID = oidc_provider.CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = oidc_provider.CLIENT_SECRET
    settings.OIDC_ALLOWED_EMAIL_DOMAINS = ["acme.test", "example.com"]
    settings.OIDC_GROUP_ROLES = {"spanlens-admins": "admin", "spanlens-readers": "viewer"}
    sso.forget_discovery()
    idp.account = {"sub": "u-1", "email": "ada@acme.test", "email_verified": True, "groups": []}
    yield idp
    sso.forget_discovery()


def sso_sign_in(client, idp, next_url="/requests/"):
    """Click "Sign in with SSO", then Continue at the provider; the response of the callback."""
    start = client.get(f"/oidc/authenticate/?next={next_url}")
    assert start.status_code == 302
    authorize = urlsplit(start["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}" == idp.url
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    approved = httpx.post(f"{idp.url}/authorize", data=query)
    assert approved.status_code == 302
    back = urlsplit(approved.headers["location"])
    return client.get(f"{back.path}?{back.query}")


def test_login_page_offers_sso_only_when_configured(client, db, settings):
    settings.OIDC_ISSUER = ""
    assert "data-sso-button" not in client.get("/login/").content.decode()
    settings.OIDC_ISSUER, settings.OIDC_RP_CLIENT_ID = "https://idp.example.com", "x"
    assert "Sign in with SSO" in client.get("/login/").content.decode()


def test_first_sso_sign_in_creates_a_user_without_organizations(client, db, sso_on):
    r = sso_sign_in(client, sso_on)
    assert r.status_code == 302 and r["Location"] == "/requests/"
    user = get_user_model().objects.get(email="ada@acme.test")
    assert user.username == "ada@acme.test" and not user.has_usable_password()
    assert not Membership.objects.filter(user=user).exists()
    # Signed in, but in no organization: only an invitation brings one.
    assert client.get("/requests/").status_code == 403
    token_request = sso_on.token_requests[-1]
    assert len(token_request["code_verifier"]) >= 43


def test_sso_maps_to_the_existing_user_by_email(client, owner, org, sso_on):
    sso_on.account = {"sub": "o-1", "email": "Owner@Example.com", "email_verified": True}
    r = sso_sign_in(client, sso_on)
    assert r["Location"] == "/requests/"
    assert client.get("/requests/").status_code == 200
    assert get_user_model().objects.filter(email__iexact="owner@example.com").count() == 1


def test_email_domain_not_allowed_is_refused_with_a_message(client, db, sso_on):
    sso_on.account = {"sub": "x", "email": "mallory@evil.test", "email_verified": True}
    r = sso_sign_in(client, sso_on)
    assert r["Location"] == "/login/"
    page = client.get("/login/").content.decode()
    assert "Accounts from evil.test may not sign in" in page
    assert not get_user_model().objects.filter(email="mallory@evil.test").exists()
    assert "_auth_user_id" not in client.session


def test_unverified_email_is_refused(client, db, sso_on):
    sso_on.account = {"sub": "x", "email": "bob@acme.test", "email_verified": False}
    assert sso_sign_in(client, sso_on)["Location"] == "/login/"
    assert "has not verified bob@acme.test" in client.get("/login/").content.decode()


def test_tampered_callback_state_signs_no_one_in(client, db, sso_on):
    client.get("/oidc/authenticate/")
    r = client.get("/oidc/callback/?code=made-up&state=made-up")
    assert r.status_code == 400
    assert "_auth_user_id" not in client.session


def test_group_roles_apply_to_existing_memberships_but_never_demote_owners(client, owner, org, member, sso_on):
    sso_on.account = {"sub": "m", "email": "member@example.com", "email_verified": True,
                      "groups": ["spanlens-readers", "spanlens-admins"]}
    sso_sign_in(client, sso_on)
    assert Membership.objects.get(user=member, organization=org).role == "admin"
    client.logout()
    sso_on.account = {"sub": "o", "email": "owner@example.com", "email_verified": True, "groups": ["spanlens-readers"]}
    sso_sign_in(client, sso_on)
    assert Membership.objects.get(user=owner, organization=org).role == "owner"


def test_sso_user_joins_only_through_an_invitation_for_their_email(client, owner, org, sso_on):
    sent = members.invite(org, "ada@acme.test", "member", invited_by=owner)
    other = members.invite(org, "someone-else@acme.test", "member", invited_by=owner)
    sso_sign_in(client, sso_on)
    token = sent.accept_url.rstrip("/").rsplit("/", 1)[-1]
    other_token = other.accept_url.rstrip("/").rsplit("/", 1)[-1]
    assert client.post(f"/invite/{other_token}/", {"action": "accept"}).status_code == 403
    assert client.post(f"/invite/{token}/", {"action": "accept"}).status_code == 302
    ada = get_user_model().objects.get(email="ada@acme.test")
    assert Membership.objects.filter(user=ada, organization=org).count() == 1


def test_password_sign_in_turned_off_per_organization(client, owner, org, member, sso_on):
    client.force_login(owner)
    r = client.post("/settings/sign-in/", {"password_login": "off"})
    assert r.status_code == 302
    assert Organization.objects.get(pk=org.pk).password_login_disabled
    client.logout()

    r = client.post("/login/", {"username": "member", "password": "pw-member-123"})
    assert r.status_code == 200
    assert "requires single sign-on" in r.content.decode()
    assert "_auth_user_id" not in client.session
    # A wrong password still gets the usual answer, so the message tells nothing to a guesser.
    r = client.post("/login/", {"username": "member", "password": "wrong"})
    assert "requires single sign-on" not in r.content.decode()

    # SSO still works for them.
    sso_on.account = {"sub": "m", "email": "member@example.com", "email_verified": True}
    assert sso_sign_in(client, sso_on)["Location"] == "/requests/"
    assert client.get("/requests/").status_code == 200


def test_superuser_keeps_password_and_only_managers_toggle(client, org, owner, member, settings, db):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    Membership.objects.create(user=admin, organization=org, role="admin")
    Organization.objects.filter(pk=org.pk).update(password_login_disabled=True)
    r = client.post("/login/", {"username": "root", "password": "pw-root-123"})
    assert r.status_code == 302

    client.force_login(member)
    assert client.post("/settings/sign-in/", {"password_login": "on"}).status_code == 403

    # Without SSO configured, turning passwords off is refused (it would lock everyone out).
    settings.OIDC_ISSUER = ""
    Organization.objects.filter(pk=org.pk).update(password_login_disabled=False)
    client.force_login(owner)
    r = client.post("/settings/sign-in/", {"password_login": "off"})
    assert r.status_code == 400 and "not configured" in r.content.decode()
    assert not Organization.objects.get(pk=org.pk).password_login_disabled
