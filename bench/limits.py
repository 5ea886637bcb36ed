"""What a budget check adds to a proxied call: enforce.admit() timed on its own, with the
rules a busy project would have (a project's daily and monthly spend, its requests per
minute, and a per-user daily budget), against in-process counters and, when Redis is
reachable, against Redis (one EVALSHA per call).

`make bench-limits` prints a table; `--json` prints one JSON object (for bench.run).
Target: at most 0.1 ms per check in process.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal

TARGET_MS = 0.1
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 200}


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")
    os.environ.setdefault("ENCRYPTION_KEY", "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMDA=")
    import django

    django.setup()


def rules():
    from spanlens.budgets.rules import Rule, to_units

    org = str(uuid.uuid4())
    big = to_units(Decimal(10**9))
    return (
        Rule(str(uuid.uuid4()), org, "usd_day", big, "project", label="project Bench"),
        Rule(str(uuid.uuid4()), org, "usd_month", big, "project", label="project Bench"),
        Rule(str(uuid.uuid4()), org, "rpm", 10**9, "project", label="project Bench"),
        Rule(str(uuid.uuid4()), org, "usd_day", big, "user"),
    )


async def _time(store, calls: int) -> list[float]:
    from spanlens.budgets import counters, enforce

    counters._counters = store
    enforce._rates[("openai", "gpt-4o-mini")] = (15.0, 60.0)
    limits = rules()
    samples = []
    for i in range(calls + 200):
        started = time.perf_counter()
        refused, _hold = await enforce.admit(limits, f"user-{i % 100}", "openai", "gpt-4o-mini", 120, BODY)
        elapsed = time.perf_counter() - started
        assert refused is None
        if i >= 200:  # warm-up: connection, script load, window memo
            samples.append(elapsed * 1000)
    return samples


async def _ping(url: str, calls: int) -> list[float]:
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(url)
    samples = []
    for i in range(calls + 200):
        started = time.perf_counter()
        await client.ping()
        if i >= 200:
            samples.append((time.perf_counter() - started) * 1000)
    await client.aclose()
    return samples


def _summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"calls": len(samples), "p50_ms": ordered[len(ordered) // 2], "p99_ms": ordered[int(len(ordered) * 0.99)],
            "mean_ms": statistics.fmean(samples)}


def measure(calls: int, redis_url: str | None) -> dict:
    _setup()
    from spanlens.budgets import counters

    result = {"target_ms": TARGET_MS, "in_process": _summary(asyncio.run(_time(counters.LocalCounters(), calls)))}
    if redis_url:
        try:
            store = counters.RedisCounters(redis_url)
            store._sync.ping()
        except Exception as exc:
            result["redis"] = {"error": f"Redis not reachable at {redis_url}: {exc}"}
        else:
            result["redis"] = _summary(asyncio.run(_time(store, calls)))
            # The floor under any Redis-backed check: one round trip through the same client.
            result["redis_ping"] = _summary(asyncio.run(_ping(redis_url, calls)))
    return result


def table(result: dict) -> str:
    lines = ["| Budget check (4 rules) | p50 ms | p99 ms | mean ms | target |", "|---|---:|---:|---:|---:|"]
    for name, label in (("in_process", "in-process counters"), ("redis", "Redis counters (one EVALSHA)"),
                        ("redis_ping", "for scale: a bare Redis PING, same client")):
        row = result.get(name)
        if row is None:
            continue
        if "error" in row:
            lines.append(f"| {label} | {row['error']} | | | |")
            continue
        ok = "met" if row["p50_ms"] <= TARGET_MS else "MISSED"
        lines.append(f"| {label} | {row['p50_ms']:.4f} | {row['p99_ms']:.4f} | {row['mean_ms']:.4f} | "
                     f"{('≤ %s ms: ' % TARGET_MS) + ok if name == 'in_process' else '–'} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL")
                        or "redis://127.0.0.1:6379/15")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.calls, args.redis_url)
    print(json.dumps(result) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
