"""Django admin follows the same roles: staff see their organizations only,
viewers change nothing, members are managed by owners/admins, the log is read-only."""
from __future__ import annotations

from django.contrib.auth.models import Permission
from django.test import Client

from spanlens.core.models import AuditEvent, Membership, Project


def staff(user) -> Client:
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="core"))
    client = Client()
    client.force_login(user)
    return client


def test_a_viewer_cannot_change_project_data_in_admin(viewer, project):
    client = staff(viewer)
    assert client.get(f"/admin/core/project/{project.id}/change/").status_code == 200  # may look
    client.post(f"/admin/core/project/{project.id}/change/", {"name": "renamed", "organization": project.organization_id})
    assert Project.objects.get(pk=project.pk).name == project.name


def test_a_member_edits_project_data_but_not_members(member, owner, project):
    client = staff(member)
    # Every field of the admin's form, as the browser posts it.
    client.post(f"/admin/core/project/{project.id}/change/", {"name": "renamed", "organization": project.organization_id,
                                                              "response_cache_ttl_s": 0})
    assert Project.objects.get(pk=project.pk).name == "renamed"
    target = Membership.objects.get(user=owner)
    client.post(f"/admin/core/membership/{target.id}/change/",
                {"user": owner.id, "organization": target.organization_id, "role": "viewer"})
    assert Membership.objects.get(pk=target.pk).role == "owner"


def test_the_last_owner_survives_the_admin(owner, org):
    target = Membership.objects.get(user=owner)
    client = staff(owner)
    client.post(f"/admin/core/membership/{target.id}/change/",
                {"user": owner.id, "organization": org.id, "role": "viewer"})
    assert Membership.objects.get(pk=target.pk).role == "owner"
    client.post(f"/admin/core/membership/{target.id}/delete/", {"post": "yes"})
    assert Membership.objects.filter(pk=target.pk).exists()


def test_staff_see_only_their_organizations(owner, org, outsider, other_org_and_project):
    page = staff(outsider).get("/admin/core/project/").content.decode()
    assert f"/admin/core/project/{other_org_and_project[1].id}/" in page
    assert f"/admin/core/project/{org.projects.get().id}/" not in page


def test_the_audit_log_is_read_only_in_admin(owner, org):
    event = AuditEvent.objects.filter(organization=org).first()
    client = staff(owner)
    assert client.get(f"/admin/core/auditevent/{event.id}/change/").status_code == 200
    client.post(f"/admin/core/auditevent/{event.id}/delete/", {"post": "yes"})
    assert AuditEvent.objects.filter(pk=event.pk).exists()
