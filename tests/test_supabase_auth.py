"""Supabase Auth sign-in (email + password and magic link) against a local
stand-in of its HTTP API (tests/supabase_standin.py)."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model

from spanlens.core import supabase_auth
from spanlens.core.models import Membership, Organization
from tests import supabase_standin


@pytest.fixture(scope="session")
def standin():
    server = supabase_standin.SupabaseStandIn()
    yield server
    server.stop()


@pytest.fixture
def supabase_on(settings, standin):
    settings.SUPABASE_URL = standin.url
    settings.SUPABASE_ANON_KEY = supabase_standin.ANON_KEY
    settings.SUPABASE_JWT_SECRET = supabase_standin.JWT_SECRET
    standin.users.clear()
    standin.outbox.clear()
    standin.logouts.clear()
    return standin


def test_login_page_offers_supabase_only_when_configured(client, db, settings, supabase_on):
    assert "Sign in with Supabase" in client.get("/login/").content.decode()
    settings.SUPABASE_ANON_KEY = ""
    assert "data-supabase-password" not in client.get("/login/").content.decode()


def test_email_and_password_sign_in_maps_to_one_user_and_sign_out_signs_out_of_both(client, owner, org,
                                                                                     supabase_on):
    supabase_on.add_user("owner@example.com", "supa-pw-1")
    r = client.post("/login/supabase", {"email": "owner@example.com", "password": "supa-pw-1"})
    assert r.status_code == 302 and r["Location"] == "/requests/"
    assert client.get("/requests/").status_code == 200
    assert get_user_model().objects.filter(email__iexact="owner@example.com").count() == 1
    token = client.session[supabase_auth.SESSION_TOKEN]

    client.post("/logout/")
    assert supabase_on.logouts == [token]
    assert "_auth_user_id" not in client.session
    # The Supabase session is gone too.
    with pytest.raises(supabase_auth.SupabaseError):
        supabase_auth.current_user(token)


def test_wrong_password_and_unconfirmed_email_are_refused_with_messages(client, db, supabase_on):
    supabase_on.add_user("new@acme.test", "pw", confirmed=False)
    r = client.post("/login/supabase", {"email": "new@acme.test", "password": "nope"})
    assert r["Location"] == "/login/"
    assert "Invalid login credentials" in client.get("/login/").content.decode()
    client.post("/login/supabase", {"email": "new@acme.test", "password": "pw"})
    assert "Email not confirmed" in client.get("/login/").content.decode()
    assert not get_user_model().objects.filter(email="new@acme.test").exists()


def test_magic_link_creates_a_user_who_joins_nothing_without_an_invitation(client, db, supabase_on):
    supabase_on.add_user("grace@acme.test", "unused")
    r = client.post("/login/magic-link", {"email": "grace@acme.test"})
    assert r["Location"] == "/login/"
    assert "a sign-in link is on its way" in client.get("/login/").content.decode()
    link = supabase_on.outbox[-1]["link"]
    assert link.startswith("http://testserver/auth/supabase/confirm?")
    parts = urlsplit(link)
    r = client.get(f"{parts.path}?{parts.query}")
    assert r.status_code == 302 and r["Location"] == "/requests/"
    user = get_user_model().objects.get(email="grace@acme.test")
    assert not user.has_usable_password()
    assert not Membership.objects.filter(user=user).exists()
    # A link works once.
    client.logout()
    client.get(f"{parts.path}?{parts.query}")
    assert "invalid or has expired" in client.get("/login/").content.decode()


def test_unknown_email_gets_the_same_notice_and_no_link(client, db, supabase_on):
    client.post("/login/magic-link", {"email": "nobody@acme.test"})
    assert "a sign-in link is on its way" in client.get("/login/").content.decode()
    assert supabase_on.outbox == []


def test_forged_access_token_is_refused(db, supabase_on, settings):
    import jwt

    forged = jwt.encode({"email": "owner@example.com", "aud": "authenticated"}, "another-secret-another-secret-xx",
                        algorithm="HS256")
    with pytest.raises(supabase_auth.SupabaseError):
        supabase_auth.current_user(forged)


def test_supabase_password_refused_for_sso_only_organization(client, member, org, supabase_on):
    Organization.objects.filter(pk=org.pk).update(password_login_disabled=True)
    supabase_on.add_user("member@example.com", "supa")
    client.post("/login/supabase", {"email": "member@example.com", "password": "supa"})
    assert "requires single sign-on" in client.get("/login/").content.decode()
    assert "_auth_user_id" not in client.session


def test_not_configured_and_bad_input(client, db, settings):
    settings.SUPABASE_URL = ""
    r = client.post("/login/supabase", {"email": "a@b.c", "password": "x"})
    assert r["Location"] == "/login/"
    assert client.get("/auth/supabase/confirm").status_code == 302
