"""Background work owned by the core: draining the request-log fallback queue."""
from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F

from spanlens.core.models import RequestFallback

log = logging.getLogger("spanlens.tasks")


def drain_fallback_once(batch_size: int | None = None) -> dict:
    """Write one batch of fallback rows to ClickHouse; delete them only once written."""
    from spanlens.requestlog import queries

    batch_size = batch_size or settings.FALLBACK_DRAIN_BATCH
    with transaction.atomic():
        items = list(
            RequestFallback.objects.select_for_update(skip_locked=True).order_by("id")[:batch_size]
        )
        if not items:
            return {"written": 0, "failed": 0}
        try:
            queries.insert_requests([item.row for item in items])
        except Exception as exc:
            RequestFallback.objects.filter(id__in=[i.id for i in items]).update(
                attempts=F("attempts") + 1, last_error=str(exc)[:2000]
            )
            log.warning("fallback drain failed for %d rows: %s", len(items), exc)
            return {"written": 0, "failed": len(items), "error": str(exc)}
        RequestFallback.objects.filter(id__in=[i.id for i in items]).delete()
    return {"written": len(items), "failed": 0}


@shared_task(name="spanlens.core.tasks.drain_fallback")
def drain_fallback(max_batches: int = 100) -> dict:
    """Drain until the queue is empty or ClickHouse refuses again."""
    written = 0
    for _ in range(max_batches):
        result = drain_fallback_once()
        written += result["written"]
        if result["written"] == 0:
            outcome = {"written": written, "remaining": RequestFallback.objects.count()}
            if "error" in result:
                outcome["error"] = result["error"]
            return outcome
    return {"written": written, "remaining": RequestFallback.objects.count()}


@shared_task(name="spanlens.core.tasks.heartbeat")
def heartbeat() -> None:
    """Sent by beat every HEARTBEAT_INTERVAL_S; running it proves a worker consumes the queue."""
    from spanlens.core.health import record_heartbeat

    record_heartbeat("worker")


@shared_task
def refresh_unpriced_models() -> int:
    """Beat: per organization, record the models its traffic used without a price."""
    from spanlens.core.models import Organization

    for organization_id in Organization.objects.values_list("id", flat=True):
        refresh_unpriced_models_for.delay(organization_id=str(organization_id))
    return Organization.objects.count()


@shared_task
def refresh_unpriced_models_for(*, organization_id: str) -> int:
    from spanlens.core import prices
    from spanlens.core.models import Organization

    organization = Organization.objects.filter(id=organization_id).first()
    if organization is None:
        return 0
    return len(prices.refresh_unpriced_models(organization))
