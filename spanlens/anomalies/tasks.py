"""The detector on a schedule: beat fans out one task per organization; snapshots hourly."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from celery import shared_task


@shared_task
def detect_anomalies() -> int:
    """Every ANOMALY_INTERVAL_S: one detector run per organization, each its own task."""
    from spanlens.core.models import Organization

    ids = list(Organization.objects.values_list("id", flat=True))
    for org_id in ids:
        detect_organization_anomalies.delay(str(org_id))
    return len(ids)


@shared_task
def detect_organization_anomalies(organization_id: str) -> dict:
    """Takes an id and re-reads everything; a repeat or a run after a restart is harmless."""
    from spanlens.anomalies import services
    from spanlens.core.models import Organization

    if not Organization.objects.filter(id=organization_id).exists():
        return {}
    return services.detect_for_organization(organization_id)


@shared_task
def snapshot_anomalies() -> int:
    """Today's and yesterday's snapshot of every organization (yesterday's last change lands
    after midnight); rewriting a day is idempotent."""
    from spanlens.anomalies import services
    from spanlens.core.models import Organization

    today = datetime.now(timezone.utc).date()
    ids = list(Organization.objects.values_list("id", flat=True))
    for org_id in ids:
        for day in (today - timedelta(days=1), today):
            services.take_daily_snapshot(org_id, day)
    return len(ids)
