"""Deadlines for the calls in flight, kept by one timer for all of them.

`asyncio.timeout()` arms a loop timer when it is entered and disarms it when left;
the proxy enters two per call (the provider's headers, then its body or stream),
which at thousands of calls a second was ~10 µs of every call. Here entering a
deadline adds it to a set, and one sweep every SWEEP_S cancels the calls whose
deadline has passed, so a deadline fires up to SWEEP_S late: nothing that is
measured in seconds (UPSTREAM_HEADERS_TIMEOUT_S, STREAM_DEADLINE_S) notices.

The same sweep runs a deadline's `on_sweep` once: a stream starts its disconnect
watcher that way, so the many streams that end within a sweep never pay for a task.
The semantics are asyncio.timeout's: the body sees CancelledError, the block
raises TimeoutError, and a cancellation from elsewhere passes through.
"""
from __future__ import annotations

import asyncio

SWEEP_S = 0.25


class _Sweeper:
    __slots__ = ("loop", "active", "handle")

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.active: set[Deadline] = set()
        self.handle: asyncio.TimerHandle | None = None

    def add(self, deadline: Deadline) -> None:
        self.active.add(deadline)
        if self.handle is None:
            self.handle = self.loop.call_later(SWEEP_S, self.sweep)

    def sweep(self) -> None:
        now = self.loop.time()
        for deadline in list(self.active):
            if deadline.when <= now:
                if not deadline.expired:
                    deadline.expired = True
                    deadline.task.cancel()
            elif deadline.on_sweep is not None:
                callback, deadline.on_sweep = deadline.on_sweep, None
                callback()
        if self.active:
            self.handle = self.loop.call_later(SWEEP_S, self.sweep)
        else:  # idle: the next deadline on this loop starts a new sweeper (a closed loop is let go)
            self.handle = None
            if _sweepers.get(self.loop) is self:
                del _sweepers[self.loop]


_sweepers: dict[asyncio.AbstractEventLoop, _Sweeper] = {}


class Deadline:
    """`async with Deadline(seconds):` — TimeoutError once `seconds` (+ up to SWEEP_S) have passed."""

    __slots__ = ("seconds", "when", "task", "expired", "on_sweep", "_cancelling", "_sweeper")

    def __init__(self, seconds: float, on_sweep=None):
        self.seconds = seconds
        self.on_sweep = on_sweep
        self.expired = False

    async def __aenter__(self) -> Deadline:
        loop = asyncio.get_running_loop()
        sweeper = _sweepers.get(loop)
        if sweeper is None:
            sweeper = _sweepers[loop] = _Sweeper(loop)
        self._sweeper = sweeper
        self.task = asyncio.current_task()
        self._cancelling = self.task.cancelling()
        self.when = loop.time() + self.seconds
        sweeper.add(self)
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self._sweeper.active.discard(self)
        if self.expired and self.task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc
