"""Who may read which traces: the organization of a Spanlens API key or of a signed-in member.

Outsiders get 404 (not 403) from every trace URL, so ids of other tenants are not confirmed.
"""
from __future__ import annotations

from dataclasses import dataclass

from spanlens.core.apikeys import hash_key
from spanlens.core.models import ApiKey, Membership


@dataclass(frozen=True)
class Caller:
    organization_id: object
    project_id: object | None


def caller_from_api_key(request) -> Caller | None:
    """The `Authorization: Bearer sl_live_…` key's organization and project; None if absent, unknown or revoked."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    key = ApiKey.objects.filter(key_hash=hash_key(raw.strip())).only(
        "organization_id", "project_id", "revoked_at"
    ).first()
    if key is None or not key.is_active:
        return None
    return Caller(key.organization_id, key.project_id)


def caller_from_session(request) -> Caller | None:
    """The signed-in user's organization (their first membership)."""
    if not request.user.is_authenticated:
        return None
    membership = (
        Membership.objects.filter(user=request.user).order_by("created_at", "id").only("organization_id").first()
    )
    return Caller(membership.organization_id, None) if membership else None
