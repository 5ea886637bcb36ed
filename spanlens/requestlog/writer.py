"""Batches request-log rows off the proxy's hot path.

The proxy calls enqueue() (a deque append, no I/O); a daemon thread flushes
every LOG_FLUSH_INTERVAL_MS or LOG_BATCH_SIZE rows. A batch ClickHouse refuses
goes to the RequestFallback table so no row is lost; drain_fallback retries it.
"""
from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
from collections import deque

from django.conf import settings
from django.db import connections

log = logging.getLogger("spanlens.requestlog")
SWITCH_INTERVAL_S = 0.0005
# Row building pauses for YIELD_S after every ROW_SLICE_S of work (see write_batch).
ROW_SLICE_S = 0.001
YIELD_S = 0.0002


class RequestLogWriter:
    def __init__(self, batch_size: int, interval_s: float):
        self.batch_size = batch_size
        self.interval_s = interval_s
        self._rows: deque[dict] = deque()
        self._wake = threading.Event()
        self._flush_lock = threading.Lock()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.rows_written = 0
        self.rows_to_fallback = 0

    def enqueue(self, row: dict) -> None:
        self._rows.append(row)
        if self._thread is None:
            self._start()
        if len(self._rows) >= self.batch_size:
            self._wake.set()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                # Building rows is Python work that holds the GIL in slices of the switch
                # interval (5 ms by default); the event loop waits up to a slice to answer.
                # 0.5 ms slices cut that wait from ~5-16 ms to ~0.7 ms p95 during a flush,
                # and the flush takes no longer (`make bench`, profile.md).
                sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
                self._thread = threading.Thread(target=self._loop, name="spanlens-log-writer", daemon=True)
                self._thread.start()
                atexit.register(self.stop)

    def _loop(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            self.flush_now()
            # Fallback writes and hooks open a DB connection in this thread; close it
            # so idle connections don't pile up (and databases can be dropped in tests).
            connections.close_all()

    def flush_now(self) -> int:
        """Write everything queued so far; returns the number of rows handled."""
        with self._flush_lock:
            batch = []
            while self._rows and len(batch) < 50_000:
                batch.append(self._rows.popleft())
            if batch:
                write_batch(batch, self)
            return len(batch)

    def flush(self, timeout: float = 10.0) -> None:
        """Block until rows queued before this call are written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._rows and time.monotonic() < deadline:
            self.flush_now()
        # A batch the thread took just before we looked finishes under the lock.
        with self._flush_lock:
            pass

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        while self._rows:
            self.flush_now()

    @property
    def pending(self) -> int:
        return len(self._rows)


def write_batch(batch: list[dict], writer: RequestLogWriter | None = None) -> None:
    from spanlens.core.models import RequestFallback
    from spanlens.requestlog import queries

    rows = []
    slice_start = time.monotonic()
    for item in batch:
        if isinstance(item, dict):
            rows.append(item)
            continue
        # A busy thread only lends the GIL to the event loop one switch interval at a
        # time, and takes it back at the loop's next I/O call, so a whole flush's row
        # building (~25-60 ms) stalled requests for about as long. A real sleep leaves
        # the loop the GIL outright: max added latency at c=1 44-45 ms -> 8-11 ms (profile.md).
        if time.monotonic() - slice_start > ROW_SLICE_S:
            time.sleep(YIELD_S)
            slice_start = time.monotonic()
        try:
            rows.append(item.to_row())
        except Exception:  # a parsing bug must not cost the other rows of the batch
            log.exception("could not build a request-log row; skipped")
    batch = rows
    try:
        queries.insert_requests(batch)
        if writer:
            writer.rows_written += len(batch)
    except Exception as exc:  # ClickHouse down, schema missing, bad row…
        log.warning("ClickHouse refused %d rows, queued to fallback: %s", len(batch), exc)
        RequestFallback.objects.bulk_create(
            [RequestFallback(row=row, last_error=str(exc)[:2000]) for row in batch], batch_size=500
        )
        if writer:
            writer.rows_to_fallback += len(batch)
        return
    for hook in _after_write:
        try:
            hook(batch)
        except Exception:  # e.g. trace linking; the rows themselves are safe
            log.exception("after-write hook %r failed", hook)


_after_write: list = []


def register_after_write(hook) -> None:
    """Call hook(rows) after each batch is in ClickHouse (e.g. to link spans to requests)."""
    if hook not in _after_write:
        _after_write.append(hook)


_writer: RequestLogWriter | None = None


def get_writer() -> RequestLogWriter:
    global _writer
    if _writer is None:
        _writer = RequestLogWriter(settings.LOG_BATCH_SIZE, settings.LOG_FLUSH_INTERVAL_MS / 1000)
    return _writer
