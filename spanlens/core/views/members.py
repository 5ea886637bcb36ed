"""/settings/members: who is in the organization, invitations, roles.

Everyone in the organization sees the list; only owners and admins get the
forms, and every POST checks again (the services do too).
"""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from spanlens.core import audit, emails, members, roles
from spanlens.core.access import Access, org_required
from spanlens.core.models import Invitation, Membership


def _page(request, membership: Membership, *, status: int = 200, **extra) -> HttpResponse:
    rows = members.list_members(membership.organization_id)
    managers = [m for m in rows if m.role in roles.MANAGERS]
    context = {
        "tab": "members",
        # The settings layout's read-only note: here, "cannot manage members".
        "can_write": roles.can_manage(membership),
        "membership": membership,
        "organization": membership.organization,
        "can_manage": roles.can_manage(membership),
        "assignable_roles": roles.assignable_roles(membership),
        "members": rows,
        # The last owner/admin cannot be demoted or removed: no controls to try.
        "locked_member_id": managers[0].id if len(managers) == 1 else None,
        "invitations": members.list_pending_invitations(membership.organization_id),
        "email_enabled": emails.enabled(),
        "form": {"email": "", "role": Membership.Role.MEMBER, "errors": {}},
        **extra,
    }
    return render(request, "core/members.html", context, status=status)


@org_required
def members_page(request: HttpRequest, access: Access) -> HttpResponse:
    return _page(request, access.membership)


@org_required
@require_POST
def invite(request: HttpRequest, access: Access) -> HttpResponse:
    membership = access.membership
    roles.require_manager(membership)
    email, role = request.POST.get("email", ""), request.POST.get("role", "")
    try:
        sent = members.invite(membership.organization, email, role, invited_by=request.user,
                              ip=audit.client_ip(request))
    except members.MemberError as exc:
        form = {"email": email, "role": role, "errors": {exc.field or "email": str(exc)}}
        return _page(request, membership, status=400, form=form)
    return _page(request, membership, sent=sent)


def _target_membership(membership: Membership, member_id: int) -> Membership:
    target = Membership.objects.filter(organization_id=membership.organization_id, pk=member_id).first()
    if target is None:
        raise Http404("No such member")
    return target


@org_required
@require_POST
def change_role(request: HttpRequest, access: Access, member_id: int) -> HttpResponse:
    membership = access.membership
    roles.require_manager(membership)
    target = _target_membership(membership, member_id)
    try:
        members.change_role(target, request.POST.get("role", ""), actor=request.user, ip=audit.client_ip(request))
    except members.MemberError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target.user.get_username()} is now {request.POST['role']}.")
    return redirect("members")


@org_required
@require_POST
def remove(request: HttpRequest, access: Access, member_id: int) -> HttpResponse:
    membership = access.membership
    roles.require_manager(membership)
    target = _target_membership(membership, member_id)
    try:
        members.remove_member(target, actor=request.user, ip=audit.client_ip(request))
    except members.MemberError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Removed {target.user.get_username()}.")
    if target.user_id == request.user.id:
        return redirect("/")
    return redirect("members")


@org_required
@require_POST
def revoke_invitation(request: HttpRequest, access: Access, invitation_id) -> HttpResponse:
    membership = access.membership
    roles.require_manager(membership)
    invitation = Invitation.objects.filter(organization_id=membership.organization_id, pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation")
    try:
        members.revoke_invitation(invitation, actor=request.user, ip=audit.client_ip(request))
    except members.MemberError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Invitation for {invitation.email} revoked.")
    return redirect("members")
