"""Members and invitations through the pages and the JSON API: who may invite,
change roles and remove; the last admin stays; tokens are single-use and hashed."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone

from spanlens.core import members
from spanlens.core.models import AuditEvent, Invitation, Membership


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def invite_via_api(client: Client, email: str, role: str = "member"):
    return client.post("/api/v1/invitations", json.dumps({"email": email, "role": role}),
                       content_type="application/json")


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def test_owner_invites_and_gets_the_link_without_an_email_provider(owner, org, settings):
    settings.WEB_URL = "https://spanlens.example.com"
    response = invite_via_api(signed_in(owner), "New@Example.com", "viewer")
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and body["emailed"] is False
    assert body["devAcceptUrl"].startswith("https://spanlens.example.com/invite/")
    invitation = Invitation.objects.get()
    assert invitation.email == "new@example.com" and invitation.role == "viewer"
    # Only the SHA-256 of the token is stored.
    token = token_of(body["devAcceptUrl"])
    assert invitation.token_hash == members.hash_token(token) and token not in invitation.token_hash
    assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)
    assert mail.outbox == []


@override_settings(RESEND_API_KEY="re_test", EMAIL_BACKEND="anymail.backends.test.EmailBackend",
                   DEFAULT_FROM_EMAIL="Spanlens <no-reply@acme.test>", WEB_URL="https://sl.acme.test")
def test_with_resend_configured_the_invitation_is_emailed(owner, org):
    body = invite_via_api(signed_in(owner), "dev@acme.test").json()
    assert body["emailed"] is True and "devAcceptUrl" not in body
    [message] = mail.outbox
    assert message.to == ["dev@acme.test"] and message.from_email == "Spanlens <no-reply@acme.test>"
    assert "https://sl.acme.test/invite/" in message.body


def test_members_and_viewers_cannot_invite(member, viewer, org):
    for user in (member, viewer):
        response = invite_via_api(signed_in(user), "x@example.com")
        assert response.status_code == 403
        assert response.json()["success"] is False
        page = signed_in(user).post("/settings/members/invite", {"email": "x@example.com", "role": "member"})
        assert page.status_code == 403
    assert not Invitation.objects.exists()


def test_bad_input_names_the_field(owner, org):
    client = signed_in(owner)
    assert invite_via_api(client, "not-an-email").json() == {
        "success": False, "error": "Enter a valid email address.", "field": "email"}
    assert invite_via_api(client, "a@b.co", "superuser").json()["field"] == "role"
    raw = client.post("/api/v1/invitations", "{oops", content_type="application/json")
    assert raw.status_code == 400 and raw.json()["success"] is False
    page = client.post("/settings/members/invite", {"email": "nope", "role": "member"})
    assert page.status_code == 400 and b"Enter a valid email address." in page.content


def test_an_admin_cannot_invite_an_owner(owner, org):
    admin_user = get_user_model().objects.create_user("adm", "adm@example.com", "pw-admin-123")
    Membership.objects.create(user=admin_user, organization=org, role="admin")
    response = invite_via_api(signed_in(admin_user), "boss@example.com", "owner")
    assert response.status_code == 400 and response.json()["field"] == "role"


def test_accepting_as_a_new_user_joins_with_the_role(owner, org):
    url = members.invite(org, "new@example.com", "member", invited_by=owner).accept_url
    client = Client()
    page = client.get(f"/invite/{token_of(url)}/")
    assert page.status_code == 200 and b"Join Acme" in page.content
    response = client.post(f"/invite/{token_of(url)}/", {
        "action": "signup", "username": "newbie", "password": "a-long-password-1", "password2": "a-long-password-1"})
    assert response.status_code == 302
    user = get_user_model().objects.get(username="newbie")
    assert user.email == "new@example.com"
    assert Membership.objects.get(user=user, organization=org).role == "member"
    # single use
    assert client.get(f"/invite/{token_of(url)}/").status_code == 410


def test_accepting_by_signing_in_as_an_existing_user(owner, org, outsider):
    url = members.invite(org, "out@example.com", "viewer", invited_by=owner).accept_url
    response = Client().post(f"/invite/{token_of(url)}/", {
        "action": "signin", "username": "outsider", "password": "pw-outsider-123"})
    assert response.status_code == 302
    assert Membership.objects.get(user=outsider, organization=org).role == "viewer"


def test_wrong_password_and_weak_password_are_form_errors(owner, org):
    token = token_of(members.invite(org, "w@example.com", "member", invited_by=owner).accept_url)
    wrong = Client().post(f"/invite/{token}/", {"action": "signin", "username": "owner", "password": "nope"})
    assert wrong.status_code == 400 and b"Wrong username or password" in wrong.content
    weak = Client().post(f"/invite/{token}/", {"action": "signup", "username": "w", "password": "x", "password2": "y"})
    assert weak.status_code == 400 and b"The two passwords differ" in weak.content
    assert Invitation.objects.get().status == "pending"


def test_declining_closes_the_invitation(owner, org):
    token = token_of(members.invite(org, "no@example.com", "member", invited_by=owner).accept_url)
    response = Client().post(f"/invite/{token}/", {"action": "decline"})
    assert b"Invitation declined" in response.content
    assert Invitation.objects.get().status == "declined"
    assert Client().post(f"/invite/{token}/", {"action": "signup"}).status_code == 410


def test_expired_and_unknown_tokens_do_not_work(owner, org):
    token = token_of(members.invite(org, "late@example.com", "member", invited_by=owner).accept_url)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(f"/invite/{token}/").status_code == 410
    assert Client().get("/invite/not-a-real-token/").status_code == 404


def test_owner_changes_a_role_and_removes_a_member(owner, org, member):
    client = signed_in(owner)
    target = Membership.objects.get(user=member)
    client.post(f"/settings/members/{target.id}/role", {"role": "viewer"})
    assert Membership.objects.get(pk=target.pk).role == "viewer"
    client.post(f"/settings/members/{target.id}/remove")
    assert not Membership.objects.filter(pk=target.pk).exists()


def test_the_last_owner_cannot_be_demoted_or_removed(owner, org):
    mine = Membership.objects.get(user=owner)
    client = signed_in(owner)
    response = client.post(f"/settings/members/{mine.id}/role", {"role": "member"}, follow=True)
    assert b"The last owner or admin cannot be demoted" in response.content
    client.post(f"/settings/members/{mine.id}/remove")
    assert Membership.objects.get(pk=mine.pk).role == "owner"
    with pytest.raises(members.MemberError):
        members.remove_member(mine, actor=owner)


def test_an_admin_cannot_touch_the_owner(owner, org):
    admin_user = get_user_model().objects.create_user("adm", "adm@example.com", "pw-admin-123")
    Membership.objects.create(user=admin_user, organization=org, role="admin")
    with pytest.raises(members.MemberError):
        members.change_role(Membership.objects.get(user=owner), "viewer", actor=admin_user)


def test_viewers_and_members_cannot_change_roles(owner, org, member, viewer):
    target = Membership.objects.get(user=owner)
    for user in (member, viewer):
        assert signed_in(user).post(f"/settings/members/{target.id}/role", {"role": "viewer"}).status_code == 403
        assert signed_in(user).post(f"/settings/members/{target.id}/remove").status_code == 403
    assert Membership.objects.get(pk=target.pk).role == "owner"


def test_outsiders_cannot_reach_another_organizations_members(owner, org, member, outsider, other_org_and_project):
    target = Membership.objects.get(user=member)
    client = signed_in(outsider)
    assert client.post(f"/settings/members/{target.id}/role", {"role": "admin"}).status_code == 404
    assert client.post(f"/settings/members/{target.id}/remove").status_code == 404
    listing = client.get("/api/v1/members").json()
    assert [m["username"] for m in listing["members"]] == ["outsider"]
    assert 'data-member="member"' not in client.get("/settings/members/").content.decode()


def test_members_api_lists_members_and_invitations_for_managers(owner, org, viewer, api_key):
    members.invite(org, "p@example.com", "member", invited_by=owner)
    as_owner = signed_in(owner).get("/api/v1/members").json()
    assert {m["username"]: m["role"] for m in as_owner["members"]} == {"owner": "owner", "viewer": "viewer"}
    assert [i["email"] for i in as_owner["invitations"]] == ["p@example.com"]
    assert signed_in(viewer).get("/api/v1/members").json()["invitations"] == []
    by_key = Client().get("/api/v1/members", HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    assert by_key.status_code == 200 and len(by_key.json()["members"]) == 2
    assert Client().get("/api/v1/members").status_code == 401
    keyed_invite = Client().post("/api/v1/invitations", json.dumps({"email": "k@example.com"}),
                                 content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    assert keyed_invite.status_code == 403


def test_session_writes_need_the_csrf_token(owner, org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = invite_via_api(client, "c@example.com")
    assert response.status_code == 403 and response.json()["error"] == "CSRF token missing or incorrect"


def test_every_member_action_is_audited(owner, org, member):
    client = signed_in(owner)
    token = token_of(invite_via_api(client, "j@example.com", "viewer").json()["devAcceptUrl"])
    Client().post(f"/invite/{token}/", {"action": "signup", "username": "j", "password": "a-long-password-1",
                                        "password2": "a-long-password-1"})
    target = Membership.objects.get(user=member)
    client.post(f"/settings/members/{target.id}/role", {"role": "admin"})
    client.post(f"/settings/members/{target.id}/remove")
    events = list(AuditEvent.objects.filter(organization=org).order_by("id").values_list("action", "actor_label"))
    assert events[-4:] == [("member.invite", "owner"), ("member.join", "j"),
                           ("member.role_change", "owner"), ("member.remove", "owner")]
    change = AuditEvent.objects.get(action="member.role_change")
    assert change.details == {"user": "member", "from": "member", "to": "admin"}
    assert change.ip == "127.0.0.1"


def test_resend_api_key_switches_mail_to_resend(tmp_path):
    import subprocess
    import sys

    from tests.procs import ROOT, base_env

    code = ("import django; django.setup(); from django.conf import settings; "
            "from django.core.mail import get_connection; "
            "print(type(get_connection()).__module__, settings.DEFAULT_FROM_EMAIL)")
    env = base_env(tmp_path, RESEND_API_KEY="re_123", RESEND_FROM="Spanlens <no-reply@acme.test>",
                   DJANGO_SETTINGS_MODULE="spanlens.settings")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "anymail.backends.resend Spanlens <no-reply@acme.test>", out.stderr


def patch_role(client: Client, membership_id: int, role: str):
    return client.patch(f"/api/v1/members/{membership_id}", json.dumps({"role": role}),
                        content_type="application/json")


def test_members_api_changes_roles_and_removes(owner, org, member, viewer):
    target = Membership.objects.get(user=member)
    response = patch_role(signed_in(owner), target.id, "admin")
    assert response.status_code == 200 and response.json()["member"]["role"] == "admin"
    assert signed_in(owner).delete(f"/api/v1/members/{target.id}").json() == {"success": True}
    assert not Membership.objects.filter(pk=target.pk).exists()
    # a viewer may not; the last owner stays; bad input names the field
    mine = Membership.objects.get(user=owner)
    assert patch_role(signed_in(viewer), mine.id, "viewer").status_code == 403
    last = patch_role(signed_in(owner), mine.id, "viewer")
    assert last.status_code == 400 and last.json()["field"] == "role"
    assert patch_role(signed_in(owner), mine.id, "emperor").json()["field"] == "role"
    assert signed_in(owner).put(f"/api/v1/members/{mine.id}").status_code == 405


def test_members_api_hides_other_organizations(owner, org, member, outsider, other_org_and_project):
    target = Membership.objects.get(user=member)
    assert patch_role(signed_in(outsider), target.id, "viewer").status_code == 404
    assert signed_in(outsider).delete(f"/api/v1/members/{target.id}").status_code == 404
    assert Membership.objects.get(pk=target.pk).role == "member"


def test_a_signed_in_user_joins_with_one_click(owner, org, outsider, other_org_and_project):
    token = token_of(members.invite(org, "out@example.com", "member", invited_by=owner).accept_url)
    client = signed_in(outsider)
    assert b"Signed in as <strong>outsider</strong>" in client.get(f"/invite/{token}/").content
    response = client.post(f"/invite/{token}/", {"action": "accept"})
    assert response.status_code == 302 and response["Location"] == "/requests/"
    assert Membership.objects.get(user=outsider, organization=org).role == "member"
    # the organization they just joined becomes their current one
    assert client.get("/api/v1/members").json()["organization"]["name"] == "Acme"


def test_inviting_someone_already_in_the_organization_is_refused(owner, org, member):
    response = invite_via_api(signed_in(owner), "member@example.com")
    assert response.status_code == 400
    assert response.json()["error"] == "member@example.com is already a member of Acme."


def test_revoking_an_invitation_kills_the_link(owner, org, viewer):
    sent = members.invite(org, "gone@example.com", "member", invited_by=owner)
    assert signed_in(viewer).post(f"/settings/members/invitations/{sent.invitation.id}/revoke").status_code == 403
    signed_in(owner).post(f"/settings/members/invitations/{sent.invitation.id}/revoke")
    assert Invitation.objects.get().status == "revoked"
    assert Client().get(f"/invite/{token_of(sent.accept_url)}/").status_code == 410
    assert AuditEvent.objects.filter(action="member.invite_revoke", actor=owner).exists()


def test_another_signed_in_account_cannot_accept_someone_elses_invitation(owner, org, outsider, other_org_and_project):
    token = token_of(members.invite(org, "carol@example.com", "admin", invited_by=owner).accept_url)
    client = signed_in(outsider)
    page = client.get(f"/invite/{token}/")
    assert b"data-wrong-account" in page.content and b"Join Acme</button>" not in page.content
    response = client.post(f"/invite/{token}/", {"action": "accept"})
    assert response.status_code == 403
    assert b"This invitation is for someone else" in response.content
    assert b"carol@example.com" in response.content
    assert not Membership.objects.filter(user=outsider, organization=org).exists()
    assert Invitation.objects.get().status == "pending"
    refusal = AuditEvent.objects.get(organization=org, action="member.join_refused")
    assert refusal.actor == outsider and refusal.details["email"] == "carol@example.com"
    assert refusal.ip == "127.0.0.1"


def test_signing_in_through_the_link_as_another_account_is_refused(owner, org, outsider):
    token = token_of(members.invite(org, "carol@example.com", "admin", invited_by=owner).accept_url)
    client = Client()
    response = client.post(f"/invite/{token}/", {
        "action": "signin", "username": "outsider", "password": "pw-outsider-123"})
    assert response.status_code == 403
    assert not Membership.objects.filter(user=outsider, organization=org).exists()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(organization=org, action="member.join_refused").count() == 1


def test_the_invited_email_matches_whatever_its_case(owner, org):
    carol = get_user_model().objects.create_user("carol", "CAROL@Example.COM", "pw-carol-12345")
    token = token_of(members.invite(org, "Carol@example.com", "member", invited_by=owner).accept_url)
    response = signed_in(carol).post(f"/invite/{token}/", {"action": "accept"})
    assert response.status_code == 302
    assert Membership.objects.get(user=carol, organization=org).role == "member"


def test_signing_up_through_the_link_keeps_the_invited_email(owner, org):
    token = token_of(members.invite(org, "dana@example.com", "viewer", invited_by=owner).accept_url)
    response = Client().post(f"/invite/{token}/", {
        "action": "signup", "username": "dana", "email": "mallory@evil.test",
        "password": "a-long-password-1", "password2": "a-long-password-1"})
    assert response.status_code == 302
    dana = get_user_model().objects.get(username="dana")
    assert dana.email == "dana@example.com"
    assert Membership.objects.get(user=dana, organization=org).role == "viewer"


def test_another_signed_in_account_cannot_decline_it_either(owner, org, outsider):
    token = token_of(members.invite(org, "carol@example.com", "admin", invited_by=owner).accept_url)
    response = signed_in(outsider).post(f"/invite/{token}/", {"action": "decline"})
    assert response.status_code == 403
    assert Invitation.objects.get().status == "pending"
