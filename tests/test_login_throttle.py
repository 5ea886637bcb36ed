"""Sign-in throttling: repeated failures lock an account and an address out, on the
dashboard's and the admin's sign-in pages, with a clear message, an audit entry and
an admin way back in."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from spanlens.core.models import AuditEvent

LIMIT = 5


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    # Dozens of password checks per test: the production hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def attempt(client: Client, username: str, password: str, path: str = "/login/", ip: str = "10.0.0.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(owner, org):
    client = Client()
    for _ in range(LIMIT - 1):
        assert attempt(client, "owner", "wrong").status_code == 200
    locked = attempt(client, "owner", "wrong")
    assert locked.status_code == 429
    right = attempt(client, "owner", "pw-owner-123")
    assert right.status_code == 429 and not signed_in(client)
    text = right.content.decode()
    assert "Too many failed sign-ins" in text and "locked for 15 minutes" in text
    assert 'name="username"' in text and 'value="owner"' in text  # still the sign-in page


def test_the_account_stays_locked_from_another_address(owner, org):
    for i in range(LIMIT):
        attempt(Client(), "owner", "wrong", ip=f"10.0.1.{i}")
    client = Client()
    assert attempt(client, "owner", "pw-owner-123", ip="10.9.9.9").status_code == 429
    assert not signed_in(client)


def test_one_address_trying_many_accounts_is_locked_out(owner, member, org):
    for i in range(LIMIT):
        attempt(Client(), f"guess-{i}", "wrong", ip="10.0.2.1")
    client = Client()
    assert attempt(client, "member", "pw-member-123", ip="10.0.2.1").status_code == 429
    other = Client()
    assert attempt(other, "member", "pw-member-123", ip="10.0.2.2").status_code == 302 and signed_in(other)


def test_signing_in_to_ones_own_account_between_guesses_does_not_reset_the_count(owner, member, org):
    """Otherwise any account holder could guess at another account forever from one address."""
    for _ in range(LIMIT - 1):
        attempt(Client(), "owner", "wrong", ip="10.0.4.1")
    assert attempt(Client(), "member", "pw-member-123", ip="10.0.4.1").status_code == 302
    attempt(Client(), "owner", "wrong", ip="10.0.4.1")
    assert attempt(Client(), "owner", "pw-owner-123", ip="10.0.4.2").status_code == 429


def test_the_admin_sign_in_is_throttled_too(db):
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-12345")
    client = Client()
    for _ in range(LIMIT):
        attempt(client, "root", "wrong", path="/admin/login/")
    response = attempt(client, "root", "pw-root-12345", path="/admin/login/")
    assert response.status_code == 429 and b"Too many failed sign-ins" in response.content
    assert not signed_in(client)


def test_a_lockout_is_in_the_audit_log_once(owner, org):
    for _ in range(LIMIT + 3):
        attempt(Client(), "owner", "wrong")
    [event] = AuditEvent.objects.filter(organization=org, action="auth.lockout")
    assert event.details == {"username": "owner", "path": "/login/"}
    assert event.ip == "10.0.0.1" and event.actor is None and event.target_id == str(owner.pk)


def test_an_admin_unlocks_with_the_management_command(owner, org):
    for _ in range(LIMIT):
        attempt(Client(), "owner", "wrong")
    assert attempt(Client(), "owner", "pw-owner-123").status_code == 429
    call_command("axes_reset_username", "owner", stdout=open("/dev/null", "w"))
    call_command("axes_reset_ip", "10.0.0.1", stdout=open("/dev/null", "w"))
    client = Client()
    assert attempt(client, "owner", "pw-owner-123").status_code == 302 and signed_in(client)


def test_an_admin_sees_and_clears_lockouts_in_the_django_admin(owner, org):
    from axes.models import AccessAttempt

    for _ in range(LIMIT):
        attempt(Client(), "owner", "wrong")
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-12345")
    admin = Client()
    admin.force_login(root)
    page = admin.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and b"owner" in page.content
    AccessAttempt.objects.filter(username="owner").delete()  # what the admin's delete action does
    assert attempt(Client(), "owner", "pw-owner-123", ip="10.0.3.1").status_code == 302


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_the_sign_in_pages_still_work(owner, path):
    owner.is_staff = True
    owner.save()
    client = Client()
    assert attempt(client, "owner", "pw-owner-123", path=path).status_code == 302
    assert signed_in(client)


def test_code_that_authenticates_without_a_request_still_can(owner):
    """Scripts and the test client's login() have no form to throttle; web sign-ins always do."""
    assert Client().login(username="owner", password="pw-owner-123")
