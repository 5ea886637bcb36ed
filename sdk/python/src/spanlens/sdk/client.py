"""The Spanlens client: where traces and spans go, and how they get there.

    client = Spanlens(api_key="sl_live_...", base_url="http://localhost:8000")
    with client.trace(name="support-agent", user_id="u1") as trace:
        ...
    client.flush()

The first client created becomes the default one that `observe` uses when no
trace is open. Everything is flushed at interpreter exit.
"""
from __future__ import annotations

import atexit
import logging
import threading
import weakref

from spanlens.sdk import config
from spanlens.sdk.tracing import NoopTrace, TraceHandle, sample
from spanlens.sdk.transport import Transport

log = logging.getLogger("spanlens")

_default: "Spanlens | None" = None
_default_lock = threading.Lock()
_clients: "weakref.WeakSet[Spanlens]" = weakref.WeakSet()
EXIT_FLUSH_TIMEOUT_S = 2.0


class Spanlens:
    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        enabled: bool = True,
        max_queue: int = 10_000,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        timeout: float = 5.0,
        set_default: bool = True,
    ):
        self.api_key = config.api_key(api_key)
        self.base_url = config.base_url(base_url)
        self.enabled = enabled
        if enabled and not self.api_key:
            # Never crash the app over observability: trace nothing and say why once.
            log.warning("spanlens: no API key (pass api_key= or set SPANLENS_API_KEY); tracing is off")
            self.enabled = False
        self.transport = Transport(
            lambda: f"{self.base_url.rstrip('/')}/api/v1/ingest",
            lambda: self.api_key,
            max_queue=max_queue,
            batch_size=batch_size,
            flush_interval=flush_interval,
            timeout=timeout,
        )
        _clients.add(self)
        global _default
        with _default_lock:
            if set_default and _default is None:
                _default = self

    def trace(
        self,
        name: str,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        metadata: dict | None = None,
        sample_rate: float | None = None,
        id: str | None = None,
    ) -> TraceHandle | NoopTrace:
        """A new trace (a context manager). With sample_rate, a sampled-out trace is a no-op."""
        if not self.enabled or not sample(sample_rate):
            return NoopTrace(name)
        return TraceHandle(self, name, id=id, user_id=user_id, session_id=session_id, metadata=metadata)

    def flush(self, timeout: float = 10.0) -> bool:
        """Send everything queued; True when done, False if Spanlens could not be reached in time."""
        return self.transport.flush(timeout)

    def shutdown(self, timeout: float = EXIT_FLUSH_TIMEOUT_S) -> None:
        self.transport.close(timeout)

    @property
    def dropped(self) -> int:
        """Items lost because the queue was full (Spanlens unreachable for long)."""
        return self.transport.dropped

    def _emit(self, kind: str, payload: dict) -> None:
        if self.enabled:
            self.transport.enqueue(kind, payload)

    def set_default(self) -> "Spanlens":
        global _default
        with _default_lock:
            _default = self
        return self


def get_client() -> Spanlens | None:
    """The default client; created from SPANLENS_API_KEY / SPANLENS_BASE_URL if none exists yet."""
    global _default
    if _default is None and config.api_key():
        Spanlens()
    return _default


def flush(timeout: float = 10.0) -> bool:
    return all(client.flush(timeout) for client in list(_clients))


@atexit.register
def _flush_at_exit() -> None:
    for client in list(_clients):
        try:
            client.transport.flush(EXIT_FLUSH_TIMEOUT_S)
        except Exception:  # at exit, a failing flush must not mask the app's own exit status
            pass
