"""`python -m bench.memory [rows]`: where the embedded default's memory goes.

Steps through what a web process loads (Python, Django, the ASGI app, chDB opened,
rows written and read) in a throwaway var dir, printing RSS after each, then RSS by
mapping (/proc/self/smaps: chDB's library pages are file-backed and shared, the
anonymous part is heap) and chDB's own accounting (system.metrics MemoryTracking,
which counts what ClickHouse's allocator hands out, caches included).
"""
from __future__ import annotations

import collections
import os
import sys
import tempfile
import time
import uuid

import psutil


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def by_mapping(top: int = 8) -> list[tuple[str, float]]:
    totals: collections.Counter = collections.Counter()
    name = "[anon]"
    with open("/proc/self/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and not parts[0].endswith(":"):
                name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif parts and parts[0] == "Rss:":
                totals[name] += int(parts[1])
    return [(k, v / 1024) for k, v in totals.most_common(top)]


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    steps = [("python", rss_mb())]
    var = tempfile.mkdtemp(prefix="spanlens-memory-")
    os.environ.update({"SPANLENS_VAR_DIR": var, "CHDB_PATH": os.path.join(var, "clickhouse"),
                       "DJANGO_SETTINGS_MODULE": "spanlens.settings", "LOG_BUILD_PROCESS": "0"})
    import django

    django.setup()
    steps.append(("Django set up", rss_mb()))
    import spanlens.asgi  # noqa: F401  (the whole web app: proxy, dashboard, Channels)

    steps.append(("ASGI app imported", rss_mb()))
    from spanlens.requestlog import engine, migrate, queries

    migrate.apply_migrations()
    steps.append(("chDB opened, schema in place", rss_mb()))
    org, project = str(uuid.uuid4()), str(uuid.uuid4())
    queries.generate_bench_rows(organization_id=org, project_id=project, count=rows)
    steps.append((f"{rows:,} rows written", rss_mb()))
    for _ in range(3):
        queries.list_requests(organization_id=org)
        queries.get_request_stats(organization_id=org)
        queries.list_users(organization_id=org)
        queries.list_requests(organization_id=org, search="question 123")
    steps.append(("dashboard reads", rss_mb()))
    time.sleep(5)
    steps.append(("5 s idle", rss_mb()))
    try:
        engine.get_engine().command("SYSTEM JEMALLOC PURGE")
        steps.append(("after SYSTEM JEMALLOC PURGE", rss_mb()))
    except Exception as exc:
        steps.append((f"SYSTEM JEMALLOC PURGE failed: {str(exc)[:80]}", rss_mb()))
    tracked = engine.get_engine().select("SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'")
    print("RSS after each step (MB):")
    for label, value in steps:
        print(f"  {value:7.1f}  {label}")
    print("RSS by mapping (MB):")
    for label, value in by_mapping():
        print(f"  {value:7.1f}  {label}")
    if tracked:
        print(f"chDB MemoryTracking: {int(tracked[0]['value']) / 2**20:.1f} MB")
    print(f"threads: {psutil.Process().num_threads()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
