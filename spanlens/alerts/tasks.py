"""Background work for alerts. Tasks take ids, re-fetch, and are safe to run twice."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="spanlens.alerts.tasks.evaluate_alerts", ignore_result=True)
def evaluate_alerts() -> int:
    """Beat, every minute: one task per organization with enabled rules."""
    from spanlens.alerts.kinds import KINDS
    from spanlens.alerts.models import AlertRule

    evaluated = [k for k, kind in KINDS.items() if not kind.pushed]
    org_ids = set(AlertRule.objects.filter(is_enabled=True, kind__in=evaluated)
                  .values_list("organization_id", flat=True))
    for organization_id in org_ids:
        evaluate_organization.delay(str(organization_id))
    return len(org_ids)


@shared_task(name="spanlens.alerts.tasks.evaluate_organization", ignore_result=True)
def evaluate_organization(organization_id: str) -> dict:
    from spanlens.alerts import evaluation

    return evaluation.evaluate_organization(organization_id)


@shared_task(name="spanlens.alerts.tasks.deliver", ignore_result=True)
def deliver(delivery_id: str) -> str:
    from spanlens.alerts import delivery

    return delivery.attempt(delivery_id)


@shared_task(name="spanlens.alerts.tasks.retry_due_deliveries", ignore_result=True)
def retry_due_deliveries() -> int:
    """Beat, every minute: retries whose countdown task was lost to a restart go out anyway."""
    from spanlens.alerts import delivery

    ids = delivery.due_ids()
    for delivery_id in ids:
        deliver.delay(delivery_id)
    return len(ids)
