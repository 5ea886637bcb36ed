"""The audit log: every audited service writes one entry with actor, ip and
target; the page is for owners and admins of that organization only."""
from __future__ import annotations

from django.test import Client

from spanlens.core import services
from spanlens.core.models import AuditEvent


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("id")


def test_creating_an_organization_records_it_and_its_first_project(owner, org, project):
    assert last("organization.create").actor == owner
    created = last("project.create")
    assert created.target_label == project.name and created.organization_id == org.id


def test_api_key_create_and_revoke_are_recorded(owner, project):
    created = services.create_api_key(project, "backend", actor=owner, ip="10.0.0.7")
    event = last("api_key.create")
    assert (event.actor_label, event.ip, event.target_id) == ("owner", "10.0.0.7", str(created.api_key.id))
    assert created.raw_key not in str(event.details) + event.target_label
    services.revoke_api_key(created.api_key, actor=owner)
    assert last("api_key.revoke").target_id == str(created.api_key.id)


def test_provider_key_changes_are_recorded_without_the_secret(owner, project):
    key = services.add_provider_key(project, "openai", "sk-secret-1234", actor=owner, ip="10.0.0.8")
    services.rotate_provider_key(key, "sk-secret-5678", actor=owner, ip="10.0.0.8")
    services.rename_provider_key(key, "prod", actor=owner)
    services.delete_provider_key(key, actor=owner)
    actions = list(AuditEvent.objects.filter(action__startswith="provider_key.").order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["provider_key.create", "provider_key.rotate", "provider_key.rename", "provider_key.delete"]
    for event in AuditEvent.objects.filter(action__startswith="provider_key."):
        assert "sk-secret" not in f"{event.details} {event.target_label}"
    assert last("provider_key.rename").details == {"from": "openai key", "to": "prod"}


def test_services_still_work_without_an_actor(project):
    services.create_api_key(project)
    assert last("api_key.create").actor_label == "system"


def test_owners_see_the_audit_page(owner, org, project):
    services.create_api_key(project, "ci", actor=owner)
    page = signed_in(owner).get("/settings/audit/")
    assert page.status_code == 200
    assert b'data-action="api_key.create"' in page.content
    filtered = signed_in(owner).get("/settings/audit/?action=member.")
    assert b'data-action="api_key.create"' not in filtered.content


def test_members_and_viewers_cannot_see_the_audit_page(member, viewer):
    for user in (member, viewer):
        assert signed_in(user).get("/settings/audit/").status_code == 403


def test_the_audit_page_shows_only_my_organization(owner, org, outsider, other_org_and_project):
    services.create_api_key(other_org_and_project[1], "theirs", actor=outsider)
    page = signed_in(owner).get("/settings/audit/").content.decode()
    assert "theirs" not in page and "Other Inc" not in page


def test_settings_pages_record_who_did_it(owner, org, project):
    client = signed_in(owner)
    client.post("/settings/projects/", {"action": "create", "name": "Search"})
    client.post("/settings/api-keys/", {"project_id": str(project.id), "name": "ci"})
    client.post("/settings/provider-keys/", {"project_id": str(project.id), "provider": "openai",
                                             "secret": "sk-test-9876", "name": "main"})
    for action in ("project.create", "api_key.create", "provider_key.create"):
        event = last(action)
        assert (event.actor, event.ip) == (owner, "127.0.0.1"), action
    assert last("project.create").target_label == "Search"
