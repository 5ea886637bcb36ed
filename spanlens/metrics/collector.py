"""Gauges read when Prometheus scrapes: the log writer, the backlogs and Celery's queue.

Computed at scrape time from the same sources /health/deep reads, so the two
never disagree. The writer's numbers are this process's (labelled with its pid
when several web workers answer /metrics).
"""
from __future__ import annotations

import logging
import os

from django.conf import settings
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

log = logging.getLogger(__name__)


class SpanlensCollector:
    def __init__(self, per_process: bool = False):
        self.per_process = per_process

    def collect(self):
        yield from self._writer()
        yield from self._fallback()
        yield from self._celery()

    def _labels(self) -> tuple[list[str], list[str]]:
        return (["pid"], [str(os.getpid())]) if self.per_process else ([], [])

    def _writer(self):
        from spanlens.requestlog.writer import get_writer

        status = get_writer().status()
        names, values = self._labels()

        def gauge(name, doc, value):
            family = GaugeMetricFamily(name, doc, labels=names)
            family.add_metric(values, value)
            return family

        def counter(name, doc, value):
            family = CounterMetricFamily(name, doc, labels=names)
            family.add_metric(values, value)
            return family

        yield gauge("spanlens_log_writer_alive", "1 while the request-log writer thread runs.", int(status.alive))
        yield gauge("spanlens_log_writer_pending_rows", "Rows waiting in memory for the next flush.", status.pending)
        yield counter("spanlens_log_rows_written", "Request-log rows written to ClickHouse.", status.rows_written)
        yield counter("spanlens_log_rows_to_fallback", "Rows sent to the fallback table while ClickHouse refused them.",
                      status.rows_to_fallback)
        yield counter("spanlens_log_rows_dropped", "Rows lost because the in-memory queue was full.",
                      status.rows_dropped)
        yield counter("spanlens_log_writer_failures", "Failed request-log flushes.", status.failures)
        spool = status.spool or {}
        yield gauge("spanlens_log_spool_bytes", "Bytes in the crash spool of rows not yet written.",
                    spool.get("bytes", 0))

    def _fallback(self):
        from spanlens.core.models import RequestFallback

        family = GaugeMetricFamily("spanlens_log_fallback_rows", "Rows in the fallback table waiting for ClickHouse.")
        try:
            family.add_metric([], RequestFallback.objects.count())
        except Exception as exc:  # the database is down: say nothing rather than fail the scrape
            log.warning("metrics: fallback backlog unavailable: %s", exc)
            return
        yield family

    def _celery(self):
        depth = celery_queue_depth()
        if depth is None:
            return
        family = GaugeMetricFamily("spanlens_celery_queue_depth", "Tasks waiting in the Celery queue.",
                                   labels=["queue"])
        family.add_metric([settings.CELERY_TASK_DEFAULT_QUEUE], depth)
        yield family


def celery_queue_depth() -> int | None:
    """Tasks waiting in the broker's queue; None when it cannot be known (the in-process
    worker's memory broker) or the broker does not answer."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        # Celery's Redis transport keeps a queue as a list under the queue's name.
        return int(client.llen(settings.CELERY_TASK_DEFAULT_QUEUE))
    except redis.RedisError as exc:
        log.warning("metrics: Celery queue depth unavailable: %s", exc)
        return None
    finally:
        client.close()
