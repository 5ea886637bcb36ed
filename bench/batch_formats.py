"""`python -m bench.batch_formats [json|sse] [rounds]`: the log builder's batch file as Arrow
or as JSONEachRow, on the benchmark's own rows: the CPU to write it (in the builder) and
chDB's CPU to insert it (in the web process), µs a row, best and median of `rounds`.

The same rows go both ways (2,000 a batch, built from bench/run.py's calls as the builder
builds them) into a throwaway var dir's chDB.
"""
from __future__ import annotations

import marshal
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")
os.environ.setdefault("SPANLENS_VAR_DIR", tempfile.mkdtemp(prefix="spanlens-formats-var-"))

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
from django.core.management import call_command  # noqa: E402

from bench.builder import records  # noqa: E402
from spanlens.requestlog import builder  # noqa: E402
from spanlens.requestlog.engine import get_engine  # noqa: E402

ROWS = 2000


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "json"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    call_command("migrate", verbosity=0)
    call_command("clickhouse_migrate", verbosity=0)
    out = Path(tempfile.mkdtemp(prefix="spanlens-formats-"))
    engine = get_engine()
    spent: dict[str, list[float]] = {}
    for r in range(rounds):
        for fmt in ("Arrow", "JSONEachRow"):
            rows = builder.uniform([builder.build(marshal.loads(x)) for x in records(mode, ROWS)])
            started = time.process_time()
            if fmt == "Arrow":
                path = builder.write_batch_file(out, (r + 1, 1), rows, (r + 1, 0))
            else:
                path = out / f"{r + 1:08d}-{2:012d}.jsonl"
                path.write_bytes(b"\n".join(orjson.dumps(row, default=str) for row in rows))
            spent.setdefault(f"{fmt} encode", []).append(time.process_time() - started)
            started = time.process_time()  # the whole process: chDB's insert threads too
            engine.insert_files("requests", [str(path)], list(rows[0]), fmt=fmt)
            spent.setdefault(f"{fmt} insert", []).append(time.process_time() - started)
    for what, values in spent.items():
        values.sort()
        print(f"{mode:4s} {what:18s} best {values[0] / ROWS * 1e6:6.1f} µs a row, "
              f"median {values[len(values) // 2] / ROWS * 1e6:6.1f}")


if __name__ == "__main__":
    main()
