"""Logging runs below the calls' CPU priority.

Row building and inserts are work that can wait a few milliseconds; the event loop's
calls cannot. On a 2-core machine shared with the app, the kernel otherwise splits the
cores evenly between them, and a call waits behind a batch. The nice value applies to
the calling thread only (Linux keeps one per thread), so the writer thread can yield
without slowing the event loop in the same process.
"""
from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger("spanlens.requestlog")


def lower_this_thread(nice: int) -> bool:
    """Give the calling thread (on Linux, only it) the nice value `nice`; False where not possible."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        # On Linux PRIO_PROCESS with a thread id names that one thread.
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), max(current, min(nice, 19)))
        return True
    except OSError:
        log.debug("could not lower the log worker's priority", exc_info=True)
        return False
