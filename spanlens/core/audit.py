"""The audit log: who changed what, from where. Services call record(); nothing
else writes AuditEvent rows."""
from __future__ import annotations

from typing import Any

from spanlens.core.models import AuditEvent, Organization


def record(
    organization: Organization | str,
    action: str,
    *,
    actor=None,
    ip: str | None = None,
    target: Any = None,
    details: dict | None = None,
) -> AuditEvent:
    """action is "<thing>.<verb>" (api_key.create, member.role_change, …).

    actor is a user, an ApiKey (calls authenticated by key) or None (the system);
    target is a model instance or a plain label.
    """
    org_id = organization.pk if isinstance(organization, Organization) else organization
    return AuditEvent.objects.create(
        organization_id=org_id,
        action=action,
        actor=actor if _is_user(actor) else None,
        actor_label=_actor_label(actor),
        ip=ip or None,
        target_type=target._meta.label_lower if hasattr(target, "_meta") else "",
        target_id=str(target.pk) if hasattr(target, "_meta") else "",
        target_label=str(target)[:300] if target is not None else "",
        details=details or {},
    )


def client_ip(request) -> str | None:
    # The ASGI server already replaced the peer with X-Forwarded-For when the
    # proxy is trusted (FORWARDED_ALLOW_IPS), so REMOTE_ADDR is the client.
    return request.META.get("REMOTE_ADDR") or None


def _is_user(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and hasattr(actor, "get_username")


def _actor_label(actor) -> str:
    if actor is None:
        return "system"
    if _is_user(actor):
        return actor.get_username()
    return f"api key {getattr(actor, 'prefix', actor)}…"
