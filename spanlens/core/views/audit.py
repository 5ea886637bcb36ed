"""/settings/audit: the organization's audit log, for owners and admins."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from spanlens.core import roles
from spanlens.core.access import Access, org_required
from spanlens.core.models import AuditEvent

PAGE_SIZE = 100


@org_required
def audit_page(request: HttpRequest, access: Access) -> HttpResponse:
    membership = access.membership
    roles.require_manager(membership)
    events = AuditEvent.objects.filter(organization_id=membership.organization_id).select_related("actor")
    action = request.GET.get("action", "").strip()
    if action:
        events = events.filter(action__startswith=action)
    try:
        before = int(request.GET.get("before", "0"))
    except ValueError:
        before = 0
    if before:
        events = events.filter(id__lt=before)
    page = list(events[: PAGE_SIZE + 1])
    context = {
        "tab": "audit",
        "can_write": True,  # read-only by nature; no "view-only" note on this tab
        "organization": membership.organization,
        "events": page[:PAGE_SIZE],
        "next_before": page[PAGE_SIZE - 1].id if len(page) > PAGE_SIZE else None,
        "action": action,
        "actions": sorted(set(AuditEvent.objects.filter(organization_id=membership.organization_id)
                              .values_list("action", flat=True).distinct())),
    }
    return render(request, "core/audit.html", context)
