"""JSON API for members: GET /api/v1/members, POST /api/v1/invitations,
PATCH/DELETE /api/v1/members/<id>.

Session cookie (with CSRF on writes) or `Authorization: Bearer sl_live_...` for
reads. Managing members needs a signed-in owner or admin: an API key acts for
a project's code, not for a person, so it never invites or changes anyone.
"""
from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from spanlens.core import audit, members, roles
from spanlens.core.access import Access, api_auth
from spanlens.core.models import Invitation, Membership


def error(message: str, status: int, field: str | None = None) -> JsonResponse:
    body = {"success": False, "error": message}
    if field:
        body["field"] = field
    return JsonResponse(body, status=status)


@api_auth
def list_members(request: HttpRequest, access: Access) -> JsonResponse:
    if request.method != "GET":
        return error(f"method {request.method} not allowed", 405)
    organization = access.organization
    show_invitations = roles.can_manage(access.membership)
    return JsonResponse({
        "success": True,
        "organization": {"id": str(organization.id), "name": organization.name},
        "members": [_member(m) for m in members.list_members(organization.id)],
        # Pending invitations name people who have not joined: managers only.
        "invitations": [_invitation(i) for i in members.list_pending_invitations(organization.id)]
        if show_invitations else [],
    })


@api_auth
def create_invitation(request: HttpRequest, access: Access) -> JsonResponse:
    if request.method != "POST":
        return error(f"method {request.method} not allowed", 405)
    organization = access.organization
    if not roles.can_manage(access.membership):
        return error("only owners and admins (signed in) can invite members", 403)
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return error("body must be JSON: {\"email\": \"...\", \"role\": \"member\"}", 400)
    if not isinstance(payload, dict):
        return error("body must be a JSON object", 400)
    try:
        sent = members.invite(organization, str(payload.get("email", "")), str(payload.get("role", "member")),
                              invited_by=request.user, ip=audit.client_ip(request))
    except members.MemberError as exc:
        return error(str(exc), 400, exc.field)
    body = {"success": True, "invitation": _invitation(sent.invitation), "emailed": sent.emailed}
    if not sent.emailed:
        # No email provider (or it failed): the admin hands the link over.
        body["devAcceptUrl"] = sent.accept_url
        if sent.email_error:
            body["emailError"] = sent.email_error
    return JsonResponse(body, status=201)


def _member(m: Membership) -> dict:
    return {"id": m.id, "username": m.user.get_username(), "email": m.user.email, "role": m.role,
            "joinedAt": m.created_at.isoformat()}


def _invitation(i: Invitation) -> dict:
    return {"id": str(i.id), "email": i.email, "role": i.role, "status": i.status,
            "expiresAt": i.expires_at.isoformat(),
            "invitedBy": i.invited_by.get_username() if i.invited_by else None,
            "expired": i.expires_at <= timezone.now()}


@api_auth
def member_detail(request: HttpRequest, access: Access, member_id: int) -> JsonResponse:
    """PATCH {"role": "..."} changes a member's role; DELETE removes them."""
    if request.method not in ("PATCH", "DELETE"):
        return error(f"method {request.method} not allowed", 405)
    if not roles.can_manage(access.membership):
        return error("only owners and admins (signed in) can change members", 403)
    target = Membership.objects.filter(organization=access.organization, pk=member_id).select_related("user").first()
    if target is None:
        return error("not found", 404)
    ip = audit.client_ip(request)
    try:
        if request.method == "DELETE":
            members.remove_member(target, actor=request.user, ip=ip)
            return JsonResponse({"success": True})
        try:
            payload = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return error("body must be JSON: {\"role\": \"viewer\"}", 400)
        role = payload.get("role") if isinstance(payload, dict) else None
        target = members.change_role(target, str(role or ""), actor=request.user, ip=ip)
    except members.MemberError as exc:
        return error(str(exc), 400, exc.field)
    return JsonResponse({"success": True, "member": _member(target)})
