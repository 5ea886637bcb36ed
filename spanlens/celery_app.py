"""The Celery app. Redis broker in production; memory:// with an in-process worker embedded."""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")

app = Celery("spanlens")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = {
    "drain-fallback": {"task": "spanlens.core.tasks.drain_fallback", "schedule": 60.0},
}
app.conf.worker_hijack_root_logger = False
app.autodiscover_tasks(["spanlens.core", "dashboard", "evals"])
