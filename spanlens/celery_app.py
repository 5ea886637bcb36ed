"""The Celery app. Redis broker in production; memory:// with an in-process worker embedded."""
from __future__ import annotations

import os

from celery import Celery
from celery.signals import before_task_publish
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")

app = Celery("spanlens")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = {
    "drain-fallback": {"task": "spanlens.core.tasks.drain_fallback", "schedule": 60.0},
    # /health/deep reads both ends: when beat last sent it, when a worker last ran it.
    "heartbeat": {"task": "spanlens.core.tasks.heartbeat", "schedule": settings.HEARTBEAT_INTERVAL_S},
    # /settings/prices/ lists models seen without a price; it refreshes its own org on load too.
    "refresh-unpriced-models": {"task": "spanlens.core.tasks.refresh_unpriced_models", "schedule": 900.0},
    # Eval runs whose worker died (no heartbeat for EVAL_STALE_AFTER_S) are resumed.
    "resume-stale-eval-runs": {"task": "evals.tasks.resume_stale_runs", "schedule": 60.0},
    # Expired response-cache entries leave the on-disk store (Redis expires them itself).
    "purge-response-cache": {"task": "proxy.tasks.purge_response_cache", "schedule": 600.0},
    # The anomaly detector: the last hour of every model and project against the week before.
    "detect-anomalies": {"task": "spanlens.anomalies.tasks.detect_anomalies", "schedule": settings.ANOMALY_INTERVAL_S},
    # /anomalies history: one snapshot per organization and day.
    "snapshot-anomalies": {"task": "spanlens.anomalies.tasks.snapshot_anomalies", "schedule": 3600.0},
    # Alert rules of every organization; a task per organization.
    "evaluate-alerts": {"task": "spanlens.alerts.tasks.evaluate_alerts", "schedule": settings.ALERT_EVALUATE_EVERY_S},
    # Deliveries whose retry is due (their countdown task may have been lost to a restart).
    "retry-alert-deliveries": {"task": "spanlens.alerts.tasks.retry_due_deliveries", "schedule": 60.0},
}
if settings.BACKUP_DIR:
    # Opt-in: a timestamped backup in BACKUP_DIR, keeping the newest BACKUP_KEEP.
    app.conf.beat_schedule["backup"] = {
        "task": "spanlens.backups.tasks.scheduled_backup", "schedule": settings.BACKUP_INTERVAL_HOURS * 3600,
    }
app.conf.worker_hijack_root_logger = False
app.autodiscover_tasks(["spanlens.core", "dashboard", "evals", "proxy", "spanlens.anomalies", "spanlens.alerts",
                        "spanlens.backups", "spanlens.budgets"])


@before_task_publish.connect
def _note_beat(sender=None, **kwargs):
    """Beat publishes the heartbeat task: that publish is beat's own sign of life."""
    if sender != "spanlens.core.tasks.heartbeat":
        return
    try:
        import django
        from django.apps import apps

        if not apps.ready:
            django.setup()
        from spanlens.core.health import record_heartbeat

        record_heartbeat("beat")
    except Exception:  # a health note must never stop the schedule
        pass
