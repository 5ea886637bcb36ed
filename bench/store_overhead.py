"""`python -m bench.store_overhead [rows]`: what a statement costs through the store process.

The same reads on the same chDB folder, timed in a process that opens chDB itself
(`engine.ChdbEngine`, as the web process did) and then through a store process
(`store.StoreEngine`, as the web process does now), one after the other (chDB opens a
folder in one process at a time): a round trip with nothing in it, a count, a page of
summaries and a page with ~3 KB bodies a row. Prints p50 / p95 ms of each and the
difference, and the start of a resting store (the first read after a quiet minute).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READS = {
    "round trip (SELECT 1)": "SELECT 1 AS one",
    "count": "SELECT count() AS n FROM t WHERE org = {org:String}",
    "page of 50 summaries": "SELECT id, created_at, n FROM t WHERE org = {org:String} ORDER BY created_at DESC LIMIT 50",
    "page of 50 with bodies (~150 KB)": "SELECT id, created_at, body FROM t WHERE org = {org:String} "
                                        "ORDER BY created_at DESC LIMIT 50",
}
REPEATS = int(os.environ.get("BENCH_STORE_REPEATS") or 200)


def _time(engine) -> dict[str, list[float]]:
    out = {}
    for name, sql in READS.items():
        engine.select(sql, {"org": "a"})  # warm
        times = []
        for _ in range(REPEATS):
            t = time.perf_counter()
            engine.select(sql, {"org": "a"})
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out[name] = [times[len(times) // 2], times[int(len(times) * 0.95)]]
    return out


def _in_process(path: str, rows: int) -> None:
    from spanlens.requestlog.engine import ChdbEngine

    engine = ChdbEngine(path, "bench")
    engine.command("CREATE TABLE IF NOT EXISTS t (org String, id UUID, created_at DateTime64(3), n UInt32, "
                   "body String) ENGINE = MergeTree ORDER BY (org, created_at, id)")
    if not engine.select("SELECT count() AS n FROM t")[0]["n"]:
        engine.command(f"INSERT INTO t SELECT if(number % 2, 'a', 'b'), generateUUIDv4(), "
                       f"now64(3) - number, number, repeat('x', 3000) FROM numbers({rows})")
    print(json.dumps(_time(engine)), flush=True)
    os._exit(0)  # chDB's folder is closed with the process


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")
    path = str(Path(tempfile.mkdtemp(prefix="spanlens-store-overhead-")) / "clickhouse")
    child = subprocess.run([sys.executable, "-c", f"from bench.store_overhead import _in_process; "
                            f"_in_process({path!r}, {rows})"], capture_output=True, text=True,
                           cwd=str(Path(__file__).resolve().parent.parent))
    if child.returncode:
        print(child.stdout + child.stderr, file=sys.stderr)
        return 1
    here = json.loads(child.stdout.strip().splitlines()[-1])

    from spanlens.requestlog.store import StoreEngine

    store = StoreEngine(path, "bench", idle_exit_s=0)
    started = time.perf_counter()
    store.select("SELECT 1 AS one")
    start_ms = (time.perf_counter() - started) * 1000
    through = _time(store)
    store.close()
    print(f"{rows:,} rows; p50 / p95 ms over {REPEATS} reads each, one phase after the other\n")
    print("| read | chDB in the process | through the store | added p50 |")
    print("|---|---:|---:|---:|")
    for name in READS:
        a, b = here[name], through[name]
        print(f"| {name} | {a[0]:.2f} / {a[1]:.2f} | {b[0]:.2f} / {b[1]:.2f} | {b[0] - a[0]:+.2f} |")
    print(f"\nstarting a store and its first read: {start_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
