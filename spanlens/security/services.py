"""Every write to security policies; each change is audited and reaches the proxy's cache at once."""
from __future__ import annotations

from django.db import transaction

from spanlens.core import audit
from spanlens.core.invalidation import keys_changed
from spanlens.core.models import Project
from spanlens.security.models import SecurityPolicy


class PolicyError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def policy_for(project: Project) -> SecurityPolicy:
    """The project's policy; log-only when none was ever set (not saved)."""
    return SecurityPolicy.objects.filter(project=project).first() or SecurityPolicy(project=project)


def set_policy(project: Project, *, injection: str, pii: str, actor=None, ip: str | None = None) -> SecurityPolicy:
    if injection not in SecurityPolicy.Injection.values:
        raise PolicyError("injection", f"must be one of {', '.join(SecurityPolicy.Injection.values)}")
    if pii not in SecurityPolicy.Pii.values:
        raise PolicyError("pii", f"must be one of {', '.join(SecurityPolicy.Pii.values)}")
    with transaction.atomic():
        policy, _ = SecurityPolicy.objects.update_or_create(project=project,
                                                            defaults={"injection": injection, "pii": pii})
        audit.record(project.organization_id, "security_policy.update", actor=actor, ip=ip, target=project,
                     details={"injection": injection, "pii": pii})
        # The proxy caches the policy with the tenant.
        keys_changed()
    return policy


def record_enforcement(organization_id: str, project_id: str, *, action: str, request_id: str,
                       findings: list[dict]) -> None:
    """A blocked or redacted call in the audit log (the alert channel until alerts exist)."""
    project = Project.objects.filter(id=project_id).first()
    audit.record(organization_id, f"security.{action}", target=project or project_id,
                 details={"request_id": request_id,
                          "findings": [{"type": f["type"], "count": f["count"]} for f in findings]})
