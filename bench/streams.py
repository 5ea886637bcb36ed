"""Time to first byte and gaps between SSE events, as a client sees them.

Run as its own process (`python -m bench.streams spec.json`): one request at a
time per target over a kept-alive connection, targets interleaved in rounds.
The upstream paces its events, so each gap is the upstream's pace plus what
the proxy in between adds. Prints one JSON object: per target, all TTFBs and
all gaps in milliseconds.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp


async def one(session: aiohttp.ClientSession, url: str, headers: dict, body: bytes) -> tuple[float, list[float]]:
    start = time.perf_counter()
    arrivals: list[float] = []
    tail = b""
    async with session.post(url, data=body, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}: {(await response.read())[:200]!r}")
        async for chunk in response.content.iter_any():
            now = time.perf_counter()
            data = tail + chunk.replace(b"\r\n", b"\n")
            complete = data.count(b"\n\n")
            arrivals.extend([now] * complete)
            tail = data[data.rfind(b"\n\n") + 2:] if complete else data
    if not arrivals:
        raise RuntimeError(f"{url} sent no events")
    ttfb = (arrivals[0] - start) * 1000
    gaps = [(b - a) * 1000 for a, b in zip(arrivals, arrivals[1:])]
    return ttfb, gaps


async def main(spec: dict) -> dict:
    targets = spec["targets"]
    body = spec["body"].encode()
    result = {t["name"]: {"ttfb_ms": [], "gap_ms": [], "errors": 0, "error": ""} for t in targets}
    sessions = {
        t["name"]: aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=30)
        )
        for t in targets
    }
    deadline = time.monotonic() + spec.get("max_seconds", 120)
    try:
        plan = [(t, False) for t in targets for _ in range(spec.get("warmup", 0))]
        for _ in range(spec["rounds"]):
            plan += [(t, True) for t in targets for _ in range(spec["per_round"])]
        for t, record in plan:
            if time.monotonic() > deadline:
                break
            out = result[t["name"]]
            try:
                ttfb, gaps = await one(sessions[t["name"]], t["url"], t["headers"], body)
            except Exception as exc:  # a failing target is reported, not fatal
                out["errors"] += 1
                out["error"] = str(exc)[:300]
                continue
            if record:
                out["ttfb_ms"].append(ttfb)
                out["gap_ms"].extend(gaps)
    finally:
        for s in sessions.values():
            await s.close()
    return result


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    print(json.dumps(asyncio.run(main(spec))))
