"""Sends traces and spans to POST /api/v1/ingest from a daemon thread.

The app only appends to a bounded in-memory queue; the thread batches, retries
with exponential backoff, and keeps items across outages until the queue is
full, when the oldest are dropped (and counted). Nothing here raises into the
app or blocks it: Spanlens being down must never slow or crash the app.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("spanlens")

# 4xx answers other than these mean the batch itself is wrong; retrying cannot help.
RETRYABLE_STATUS = {408, 425, 429}


class Transport:
    def __init__(
        self,
        endpoint: Callable[[], str],
        api_key: Callable[[], str | None],
        *,
        max_queue: int = 10_000,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        timeout: float = 5.0,
        max_backoff: float = 30.0,
    ):
        self._endpoint = endpoint
        self._api_key = api_key
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.dropped = 0  # items lost to a full queue
        self.rejected = 0  # items the server refused as invalid
        self.sent = 0
        self._queue: deque[tuple[str, dict]] = deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._wake = False
        self._backoff = 0.0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self._batch_limit = batch_size  # halved for good when the server says a batch is too large

    # --- called from the app -------------------------------------------------

    def enqueue(self, kind: str, payload: dict) -> None:
        with self._cond:
            if self._closed:
                return
            if len(self._queue) >= self.max_queue:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append((kind, payload))
            self._ensure_thread()
            if len(self._queue) >= self.batch_size:
                self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Send everything queued now; True once the queue is empty, False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if not self._queue and not self._in_flight:
                return True
            self._ensure_thread()
            self._wake = True
            self._backoff = 0.0  # an explicit flush retries at once
            self._cond.notify_all()
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
                if self._queue and not self._in_flight:
                    self._wake = True
                    self._cond.notify_all()
            return True

    def close(self, timeout: float = 2.0) -> None:
        """Flush for up to `timeout` seconds, then stop; what is still queued is lost."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._in_flight

    # --- the background thread -----------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="spanlens-transport", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                wait = self._backoff or self.flush_interval
                deadline = time.monotonic() + wait
                while not self._closed and not self._wake and len(self._queue) < self.batch_size:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if self._closed:
                    return
                self._wake = False
                batch = [self._queue.popleft() for _ in range(min(self._batch_limit, len(self._queue)))]
                self._in_flight = len(batch)
            if not batch:
                with self._cond:
                    self._in_flight = 0
                continue
            outcome = self._send(batch)
            with self._cond:
                self._in_flight = 0
                if outcome == "too_large" and len(batch) > 1:
                    self._batch_limit = max(1, len(batch) // 2)
                    self._queue.extendleft(reversed(batch))
                elif outcome == "retry":
                    # Back in front, in order; the bound still holds (oldest go first).
                    room = self.max_queue - len(self._queue)
                    keep = batch[-room:] if room > 0 else []
                    self.dropped += len(batch) - len(keep)
                    self._queue.extendleft(reversed(keep))
                    self._backoff = min(max(self._backoff * 2, 0.25), self.max_backoff) * random.uniform(0.8, 1.2)
                else:
                    self._backoff = 0.0
                    if outcome == "sent":
                        self.sent += len(batch)
                    else:
                        self.rejected += len(batch)
                self._cond.notify_all()

    def _send(self, batch: list[tuple[str, dict]]) -> str:
        api_key = self._api_key()
        if not api_key:
            return "rejected"
        body = _coalesce(batch)
        try:
            if self._http is None:
                # Imported on the first send, in the sender thread: importing the SDK (as the
                # Spanlens server does for its template rules) loads no HTTP client.
                import httpx

                self._http = httpx.Client(timeout=self.timeout)
            response = self._http.post(
                self._endpoint(), json=body, headers={"Authorization": f"Bearer {api_key}"}
            )
        except Exception as exc:  # network down, DNS, timeouts: all mean "try later"
            log.debug("spanlens: sending %d items failed: %s", len(batch), exc)
            return "retry"
        if response.status_code < 300:
            return "sent"
        if response.status_code == 413:
            return "too_large"
        if response.status_code >= 500 or response.status_code in RETRYABLE_STATUS:
            return "retry"
        log.warning("spanlens: the server refused %d items: %s %s", len(batch), response.status_code,
                    response.text[:300])
        return "rejected"


def _coalesce(batch: list[tuple[str, dict]]) -> dict:
    """Merge repeated writes of one id (a trace's start and end) into one item, keeping order."""
    merged: dict[tuple[str, str], dict] = {}
    for kind, payload in batch:
        key = (kind, payload["id"])
        if key in merged:
            merged[key].update({k: v for k, v in payload.items() if v is not None})
        else:
            merged[key] = dict(payload)
    return {
        "traces": [p for (kind, _), p in merged.items() if kind == "trace"],
        "spans": [p for (kind, _), p in merged.items() if kind == "span"],
    }
