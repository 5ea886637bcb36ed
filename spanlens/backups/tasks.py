"""The optional backup schedule: with BACKUP_DIR set, beat sends this every BACKUP_INTERVAL_HOURS."""
from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

log = logging.getLogger(__name__)


@shared_task(name="spanlens.backups.tasks.scheduled_backup")
def scheduled_backup() -> str | None:
    """A timestamped backup in BACKUP_DIR, then only the newest BACKUP_KEEP are kept.
    A backup's folder is named by the second it started, so a retried task makes a new one."""
    from spanlens.backups import services

    if not settings.BACKUP_DIR:
        return None
    result = services.create_backup(services.timestamped(settings.BACKUP_DIR))
    removed = services.prune(settings.BACKUP_DIR, settings.BACKUP_KEEP)
    log.info("backup written to %s; %d older removed", result.path, len(removed))
    return str(result.path)
