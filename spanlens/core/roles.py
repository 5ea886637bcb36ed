"""What each role may do. owner/admin manage members and settings; member is an
editor of project data; viewer reads only.

Small on purpose: which organization a request acts for is
spanlens.core.access's business; this module only says what a role may do.
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied

from spanlens.core.models import Membership

Role = Membership.Role
MANAGERS = frozenset({Role.OWNER, Role.ADMIN})


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

