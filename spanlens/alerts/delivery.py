"""Delivering a notification on a channel: claim, send, then delivered, retried with
exponential backoff, or dead. Safe to run twice for one delivery (the claim is atomic)."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from spanlens.alerts import senders
from spanlens.alerts.models import Delivery

log = logging.getLogger("spanlens.alerts")
S = Delivery.Status
# A send that started this long ago and never finished belonged to a worker that died.
STALE_SENDING = timedelta(minutes=5)


def backoff_s(attempts: int) -> float:
    """Wait after the n-th failed attempt: base, 2×base, 4×base, … capped."""
    return min(settings.ALERT_RETRY_BASE_S * 2 ** max(attempts - 1, 0), settings.ALERT_RETRY_MAX_S)


def attempt(delivery_id: str) -> str:
    """One attempt at a due delivery; returns its status afterwards (or "skipped")."""
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimed = Delivery.objects.filter(due, id=delivery_id, status__in=[S.PENDING, S.RETRYING]).update(
        status=S.SENDING, attempts=F("attempts") + 1, last_attempt_at=now)
    if not claimed:
        return "skipped"
    delivery = Delivery.objects.select_related("channel", "notification__rule", "organization").get(id=delivery_id)
    try:
        status = senders.send(delivery)
    except senders.Retry as exc:
        return _failed(delivery, str(exc), exc.status, final=delivery.attempts >= delivery.max_attempts)
    except senders.GiveUp as exc:
        return _failed(delivery, str(exc), exc.status, final=True)
    except Exception as exc:  # a defect must not leave the delivery claimed forever
        log.exception("alert delivery %s failed", delivery_id)
        return _failed(delivery, f"internal error: {exc}", None, final=delivery.attempts >= delivery.max_attempts)
    Delivery.objects.filter(id=delivery.id).update(status=S.DELIVERED, delivered_at=timezone.now(),
                                                   response_status=status, last_error="", next_attempt_at=None)
    return S.DELIVERED


def _failed(delivery: Delivery, error: str, status: int | None, *, final: bool) -> str:
    if final:
        Delivery.objects.filter(id=delivery.id).update(status=S.DEAD, last_error=error[:2000],
                                                       response_status=status, next_attempt_at=None)
        log.warning("alert delivery %s is a dead letter after %d attempts: %s", delivery.id, delivery.attempts, error)
        return S.DEAD
    wait = backoff_s(delivery.attempts)
    Delivery.objects.filter(id=delivery.id).update(
        status=S.RETRYING, last_error=error[:2000], response_status=status,
        next_attempt_at=timezone.now() + timedelta(seconds=wait))
    from spanlens.alerts import tasks

    # The beat task retry_due_deliveries sends it too if this message is lost to a restart.
    transaction.on_commit(lambda: tasks.deliver.apply_async(args=[str(delivery.id)], countdown=wait))
    return S.RETRYING


def enqueue(delivery_ids: list[str]) -> None:
    """Send these once the surrounding transaction commits."""
    from spanlens.alerts import tasks

    def send_all():
        for delivery_id in delivery_ids:
            tasks.deliver.delay(str(delivery_id))

    transaction.on_commit(send_all)


def due_ids(limit: int = 500) -> list[str]:
    """Deliveries to (re)try now: due retries, pending ones whose task was lost (a broker
    restart), and sends a dead worker left behind (counted as a failed attempt)."""
    now = timezone.now()
    Delivery.objects.filter(status=S.SENDING, last_attempt_at__lt=now - STALE_SENDING).update(
        status=S.RETRYING, next_attempt_at=now, last_error="the worker stopped while sending")
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    # Pending ones younger than a minute still have their own task on the way.
    rows = Delivery.objects.filter(due, status__in=[S.PENDING, S.RETRYING]).exclude(
        status=S.PENDING, created_at__gt=now - timedelta(minutes=1))
    return [str(i) for i in rows.order_by("next_attempt_at", "created_at").values_list("id", flat=True)[:limit]]
