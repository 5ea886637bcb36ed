"""Budgets and rate limits on the hot path (the logic lives in spanlens.budgets.enforce)."""
from __future__ import annotations

import logging
import threading
from collections import deque

from spanlens.budgets import enforce

log = logging.getLogger("spanlens.budgets")


async def refusal(tenant, entry, prepared, parsed):
    """The call's Refusal when a budget of its tenant is used up; else None, and the entry
    carries what it was counted on (settled when its row is built)."""
    refused, entry.budget_hold = await enforce.admit(
        tenant.limits, entry.meta.get("user_id") or "", entry.provider, prepared.model, len(prepared.body), parsed)
    return refused


def headers(refused) -> list[tuple[bytes, bytes]]:
    return [(b"retry-after", str(refused.retry_after).encode())]


# Calls the SDK sampled out are not logged, but they were paid for: their cost is worked
# out here, in a thread of its own, as the log writer does for the rows it stores.
_unlogged: deque = deque(maxlen=100_000)
_wake = threading.Event()
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def settle_unlogged(entry) -> None:
    global _thread
    _unlogged.append(entry)
    _wake.set()
    if _thread is None or not _thread.is_alive():
        with _thread_lock:
            if _thread is None or not _thread.is_alive():
                _thread = threading.Thread(target=_settle_loop, name="spanlens-budget-settle", daemon=True)
                _thread.start()


def _settle_loop() -> None:
    while True:
        _wake.wait()
        _wake.clear()
        while _unlogged:
            entry = _unlogged.popleft()
            try:
                entry.priced()
            except Exception:
                log.warning("could not price an unlogged call for its budget", exc_info=True)
