"""`python -m bench.memory_growth [batches] [rows per batch]`: what chDB holds as the log grows.

Inserts batches the way a web process does (the log builder's Arrow files, then one
`INSERT … SELECT … FROM file()`; `--python` inserts from Python objects instead) into a
throwaway var dir, and prints every 50 batches what chDB's allocator has handed out
(`system.jemalloc_stats`: allocated) beside what ClickHouse accounts for itself
(`MemoryTracking`), the parts and the merges running. At the end it waits for the merges
to finish and drops each of chDB's caches in turn, printing what each gave back: memory
that no cache drop returns is held by the table itself.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    batches = int(args[0]) if args else 500
    per_batch = int(args[1]) if len(args) > 1 else 1500
    from_python = "--python" in sys.argv
    var = tempfile.mkdtemp(prefix="spanlens-growth-")
    os.environ.update({"SPANLENS_VAR_DIR": var, "CHDB_PATH": os.path.join(var, "clickhouse"),
                       "DJANGO_SETTINGS_MODULE": "spanlens.settings", "LOG_BUILD_PROCESS": "0"})
    import django

    django.setup()
    from spanlens.requestlog import migrate, queries
    from spanlens.requestlog.builder import write_batch_file
    from spanlens.requestlog.engine import get_engine
    from bench.logpath import make_rows

    migrate.apply_migrations()
    engine = get_engine()

    def allocated_mb() -> int:
        text = "\n".join(str(v) for r in engine.select("SELECT * FROM system.jemalloc_stats") for v in r.values())
        found = re.search(r"Allocated: (\d+)", text)
        return int(found.group(1)) // 2**20 if found else -1

    def tracked_mb() -> int:
        rows = engine.select("SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'")
        return int(rows[0]["value"]) // 2**20 if rows else -1

    def report(label: str) -> None:
        parts = engine.select("SELECT countIf(active) AS live, sumIf(rows, active) AS live_rows, countIf(NOT active) AS outdated "
                              "FROM system.parts WHERE database = currentDatabase()")[0]
        merges = engine.select("SELECT count() AS n, sum(memory_usage) AS mem FROM system.merges")[0]
        print(f"{label:>8}  allocated {allocated_mb():4d} MB  tracked {tracked_mb():4d} MB  "
              f"rows {int(parts['live_rows']):>9,}  parts {parts['live']} (+{parts['outdated']} outdated)  "
              f"merges {merges['n']} ({int(merges['mem'] or 0) // 2**20} MB)", flush=True)

    org, project = str(uuid.uuid4()), str(uuid.uuid4())
    out = Path(tempfile.mkdtemp(prefix="batches-", dir=var))
    print(f"{batches} batches of {per_batch} rows, inserted from {'Python objects' if from_python else 'Arrow files'}")
    for i in range(batches + 1):
        rows = make_rows(per_batch, org, project)
        if from_python:
            queries.insert_requests(rows)
        else:
            half = len(rows) // 2
            paths = [write_batch_file(out, (i, 1), rows[:half], (i, 0)),
                     write_batch_file(out, (i, 2), rows[half:], (i, 1))]
            queries.insert_request_files([str(p) for p in paths], list(rows[0]))
            for p in paths:
                p.unlink()
        if i % 50 == 0:
            engine.release_memory()
            report(str(i))
    for _ in range(120):
        if not engine.select("SELECT count() AS n FROM system.merges")[0]["n"]:
            break
        time.sleep(1)
    engine.release_memory()
    report("settled")
    for cache in ("SCHEMA", "QUERY CONDITION", "MARK", "PRIMARY INDEX", "UNCOMPRESSED", "INDEX MARK", "MMAP",
                  "QUERY", "PAGE"):
        try:
            engine.command(f"SYSTEM DROP {cache} CACHE")
        except Exception as exc:  # a cache this build does not have
            print(f"  SYSTEM DROP {cache} CACHE: {str(exc)[:80]}")
            continue
        engine.release_memory()
        print(f"  after SYSTEM DROP {cache} CACHE: allocated {allocated_mb()} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
