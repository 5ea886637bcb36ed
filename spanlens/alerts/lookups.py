"""Rules, channels and deliveries of the caller's organization, or 404 (never another tenant's)."""
from __future__ import annotations

from django.http import Http404

from spanlens.alerts.models import AlertRule, Channel, Delivery
from spanlens.core.access import Access, uuid_or_404


def _get(queryset, access: Access, object_id, what: str):
    obj = queryset.filter(organization=access.organization, id=uuid_or_404(object_id)).first()
    if obj is None:
        raise Http404(f"No such {what}")
    return obj


def rule_or_404(access: Access, rule_id) -> AlertRule:
    return _get(AlertRule.objects, access, rule_id, "alert rule")


def channel_or_404(access: Access, channel_id) -> Channel:
    return _get(Channel.objects, access, channel_id, "channel")


def delivery_or_404(access: Access, delivery_id) -> Delivery:
    return _get(Delivery.objects.select_related("channel", "notification"), access, delivery_id, "delivery")
