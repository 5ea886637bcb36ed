"""The proxy's deadlines (one sweep for all calls in flight) behave as asyncio.timeout does."""
from __future__ import annotations

import asyncio
import time

import pytest

from proxy.deadlines import SWEEP_S, Deadline


def test_a_block_that_outlasts_its_deadline_raises_timeout_error_within_a_sweep():
    async def main():
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with Deadline(0.3):
                await asyncio.sleep(10)
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    # Up to one sweep late, plus room for a loaded machine's scheduling (the block sleeps 10 s).
    assert 0.3 <= elapsed < 0.3 + SWEEP_S + 0.5


def test_a_block_within_its_deadline_is_untouched_and_leaves_no_cancellation_behind():
    async def main():
        async with Deadline(5) as deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(SWEEP_S * 2)  # a sweep after the block must not cancel anything
        return deadline.expired, asyncio.current_task().cancelling()

    assert asyncio.run(main()) == (False, 0)


def test_a_cancellation_from_elsewhere_passes_through_as_cancelled_error():
    async def main():
        async def call():
            async with Deadline(5):
                await asyncio.sleep(10)

        task = asyncio.ensure_future(call())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_nested_deadlines_each_raise_for_their_own_expiry():
    async def main():
        outer_caught = inner_caught = False
        try:
            async with Deadline(0.6):
                try:
                    async with Deadline(0.1):
                        await asyncio.sleep(10)
                except TimeoutError:
                    inner_caught = True
                await asyncio.sleep(10)
        except TimeoutError:
            outer_caught = True
        return inner_caught, outer_caught

    assert asyncio.run(main()) == (True, True)


def test_on_sweep_runs_once_for_a_long_block_and_never_for_a_short_one():
    async def main():
        calls = {"long": 0, "short": 0}
        async with Deadline(5, on_sweep=lambda: calls.__setitem__("short", calls["short"] + 1)):
            pass
        async with Deadline(5, on_sweep=lambda: calls.__setitem__("long", calls["long"] + 1)):
            await asyncio.sleep(SWEEP_S * 3)
        return calls

    assert asyncio.run(main()) == {"long": 1, "short": 0}


def test_deadlines_on_two_event_loops_are_swept_by_their_own_loop():
    import threading

    results = []

    def run():
        async def main():
            try:
                async with Deadline(0.2):
                    await asyncio.sleep(5)
            except TimeoutError:
                results.append("timeout")

        asyncio.run(main())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert results == ["timeout", "timeout"]
