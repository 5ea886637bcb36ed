"""Members of an organization: invitations, roles, removal. Views call these.

Rules that hold whatever the entry point (page, JSON API, Django admin):
only owners and admins manage members, only owners hand out or take away the
owner role, and an organization always keeps at least one owner or admin.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from spanlens.core import audit, emails, roles
from spanlens.core.models import Invitation, Membership, Organization

Role = Membership.Role


class MemberError(ValueError):
    """A request that breaks a membership rule; the message is shown to the user."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class SentInvitation:
    invitation: Invitation
    accept_url: str
    emailed: bool
    email_error: str | None = None


def hash_token(raw: str) -> str:
    # 256 random bits: a fast hash is enough, and a leaked table reveals no usable link.
    return hashlib.sha256(raw.encode()).hexdigest()


def accept_url(raw_token: str) -> str:
    return f"{settings.WEB_URL}/invite/{raw_token}/"


def _acting_membership(actor, organization_id) -> Membership:
    if getattr(actor, "is_superuser", False):
        # The install's superuser (Django admin) acts as an owner everywhere.
        return Membership(user=actor, organization_id=organization_id, role=Role.OWNER)
    membership = roles.membership_of(actor, organization_id)
    roles.require_manager(membership)
    return membership


def invite(organization: Organization, email: str, role: str, *, invited_by, ip: str | None = None) -> SentInvitation:
    acting = _acting_membership(invited_by, organization.id)
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise MemberError("Enter a valid email address.", "email")
    if role not in Role.values:
        raise MemberError(f"role must be one of {', '.join(Role.values)}", "role")
    if role not in roles.assignable_roles(acting):
        raise MemberError("Only an owner can invite another owner.", "role")
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise MemberError(f"{email} is already a member of {organization.name}.", "email")
    raw = secrets.token_urlsafe(32)
    with transaction.atomic():
        # A new invitation replaces any pending one for the same address.
        Invitation.objects.filter(
            organization=organization, email=email, accepted_at=None, declined_at=None, revoked_at=None
        ).update(revoked_at=timezone.now())
        invitation = Invitation.objects.create(
            organization=organization, email=email, role=role, token_hash=hash_token(raw),
            invited_by=invited_by, expires_at=timezone.now() + timedelta(days=Invitation.VALID_DAYS),
        )
        audit.record(organization, "member.invite", actor=invited_by, ip=ip, target=invitation,
                     details={"email": email, "role": role})
    url = accept_url(raw)
    emailed, error = emails.send_invitation(invitation, url)
    return SentInvitation(invitation, url, emailed, error)


def find_invitation(raw_token: str) -> Invitation | None:
    return (
        Invitation.objects.filter(token_hash=hash_token(raw_token or ""))
        .select_related("organization", "invited_by")
        .first()
    )


def _pending(invitation: Invitation) -> None:
    if invitation.status != "pending":
        raise MemberError(f"This invitation was {invitation.status}.")


class WrongAccount(MemberError):
    """The accepting account is not the invited address: the link is not a bearer token."""


def is_invited_account(invitation: Invitation, user) -> bool:
    return (user.email or "").strip().lower() == invitation.email.strip().lower()


def accept_invitation(invitation: Invitation, user, *, ip: str | None = None) -> Membership:
    # Checked before the transaction so the refusal's audit entry is not rolled back with it.
    if not is_invited_account(invitation, user):
        audit.record(invitation.organization_id, "member.join_refused", actor=user, ip=ip, target=invitation,
                     details={"email": invitation.email, "account_email": user.email or ""})
        raise WrongAccount(
            f"This invitation is for {invitation.email}, and you are signed in as "
            f"{user.get_username()} ({user.email or 'no email'}). Sign in with the invited account, "
            "or ask an admin to invite this one."
        )
    return _join(invitation, user, ip=ip)


@transaction.atomic
def _join(invitation: Invitation, user, *, ip: str | None) -> Membership:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    _pending(invitation)
    membership, created = Membership.objects.get_or_create(
        user=user, organization_id=invitation.organization_id, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(invitation.organization_id, "member.join", actor=user, ip=ip, target=membership,
                 details={"email": invitation.email, "role": membership.role, "already_member": not created})
    return membership


@transaction.atomic
def decline_invitation(invitation: Invitation, *, user=None, ip: str | None = None) -> None:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    _pending(invitation)
    invitation.declined_at = timezone.now()
    invitation.save(update_fields=["declined_at"])
    audit.record(invitation.organization_id, "member.decline", actor=user, ip=ip, target=invitation,
                 details={"email": invitation.email})


def revoke_invitation(invitation: Invitation, *, actor, ip: str | None = None) -> None:
    _acting_membership(actor, invitation.organization_id)
    _pending(invitation)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit.record(invitation.organization_id, "member.invite_revoke", actor=actor, ip=ip, target=invitation,
                 details={"email": invitation.email})


def _other_managers(membership: Membership) -> bool:
    return (
        Membership.objects.filter(organization_id=membership.organization_id, role__in=roles.MANAGERS)
        .exclude(pk=membership.pk)
        .exists()
    )


@transaction.atomic
def change_role(membership: Membership, role: str, *, actor, ip: str | None = None) -> Membership:
    acting = _acting_membership(actor, membership.organization_id)
    if role not in Role.values:
        raise MemberError(f"role must be one of {', '.join(Role.values)}", "role")
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    old = membership.role
    if old == role:
        return membership
    if Role.OWNER in (old, role) and acting.role != Role.OWNER:
        raise MemberError("Only an owner can make someone an owner or change an owner's role.", "role")
    if old in roles.MANAGERS and role not in roles.MANAGERS and not _other_managers(membership):
        raise MemberError("The last owner or admin cannot be demoted: promote someone else first.", "role")
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(membership.organization_id, "member.role_change", actor=actor, ip=ip, target=membership,
                 details={"user": membership.user.get_username(), "from": old, "to": role})
    return membership


@transaction.atomic
def remove_member(membership: Membership, *, actor, ip: str | None = None) -> None:
    acting = _acting_membership(actor, membership.organization_id)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if membership.role == Role.OWNER and acting.role != Role.OWNER:
        raise MemberError("Only an owner can remove an owner.")
    if membership.role in roles.MANAGERS and not _other_managers(membership):
        raise MemberError("The last owner or admin cannot be removed: promote someone else first.")
    audit.record(membership.organization_id, "member.remove", actor=actor, ip=ip, target=membership,
                 details={"user": membership.user.get_username(), "role": membership.role})
    membership.delete()


def list_members(organization_id) -> list[Membership]:
    return list(
        Membership.objects.filter(organization_id=organization_id).select_related("user").order_by("created_at")
    )


def list_pending_invitations(organization_id) -> list[Invitation]:
    return [
        i for i in Invitation.objects.filter(
            organization_id=organization_id, accepted_at=None, declined_at=None, revoked_at=None
        ).select_related("invited_by")
        if i.status == "pending"
    ]

