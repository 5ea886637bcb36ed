"""What each role may do. owner/admin manage members and settings; member is an
editor of project data; viewer reads only.

Small on purpose: pages reach the current organization through
current_membership (the org switcher's session choice, else the first one).
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied

from spanlens.core.models import Membership

Role = Membership.Role
MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
# The org switcher stores the chosen organization under this session key.
SESSION_ORG = "spanlens_org_id"


def can_manage(membership: Membership | None) -> bool:
    return membership is not None and membership.role in MANAGERS


def can_write(membership: Membership | None) -> bool:
    return membership is not None and membership.role != Role.VIEWER


def require_manager(membership: Membership | None) -> None:
    if not can_manage(membership):
        raise PermissionDenied("Only owners and admins can manage members and settings.")


def require_write(membership: Membership | None) -> None:
    if not can_write(membership):
        raise PermissionDenied("Viewers cannot change anything in this organization.")


def assignable_roles(membership: Membership | None) -> list[str]:
    """Roles this member may hand out: only an owner makes (or unmakes) owners."""
    if not can_manage(membership):
        return []
    if membership.role == Role.OWNER:
        return list(Role.values)
    return [r for r in Role.values if r != Role.OWNER]


def membership_of(user, organization_id) -> Membership | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Membership.objects.filter(user=user, organization_id=organization_id).select_related("organization").first()
    )


def current_membership(request) -> Membership | None:
    user = request.user
    if not user.is_authenticated:
        return None
    rows = list(Membership.objects.filter(user=user).select_related("organization").order_by("organization__name"))
    if not rows:
        return None
    chosen = request.session.get(SESSION_ORG)
    return next((m for m in rows if str(m.organization_id) == chosen), rows[0])
