"""`python -m bench.builder [rows] [rounds]`: the log builder's CPU per row, in one process, no server.

The benchmark's own calls (bench/run.py's request bodies, bench/upstream.py's answers,
JSON and a 13-event stream) are spooled the way the proxy spools them, then run
through what the builder child does with each record: unmarshal, build the row
(parse or reassemble, cost, masking, security scan) and write the Arrow batch file.
Prints µs of CPU per row for each part and the whole, the best of `rounds` (a shared
machine only ever adds time): the
builder's CPU is what logging takes from the calls on a machine with few cores.
"""
from __future__ import annotations

import marshal
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")
# A throwaway var dir (its SQLite holds the price table the rows are priced from).
os.environ.setdefault("SPANLENS_VAR_DIR", tempfile.mkdtemp(prefix="spanlens-builder-var-"))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

import orjson  # noqa: E402

from bench.run import BODIES  # noqa: E402
from bench.upstream import OPENAI_JSON, openai_sse_events  # noqa: E402
from proxy.auth import Tenant  # noqa: E402
from proxy.logentry import PendingLog  # noqa: E402
from spanlens.requestlog import builder  # noqa: E402
from spanlens.requestlog.writer import _spool_record  # noqa: E402


def records(mode: str, n: int) -> list[bytes]:
    tenant = Tenant(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()), {})
    request = orjson.dumps(BODIES[mode])
    answer = b"".join(openai_sse_events()) if mode == "sse" else orjson.dumps(OPENAI_JSON)
    out = []
    for _ in range(n):
        entry = PendingLog(created_at=time.time(), tenant=tenant, provider="openai",
                           endpoint="v1/chat/completions", method="POST", meta={})
        entry.model, entry.request_body, entry.response_raw = "gpt-4o-mini", request, answer
        entry.stream, entry.status_code, entry.latency_ms = mode == "sse", 200, 12
        out.append(marshal.dumps(_spool_record(entry)))
    return out


def measure(mode: str, n: int, rounds: int) -> dict:
    spooled = records(mode, n)
    out_dir = Path(tempfile.mkdtemp(prefix="spanlens-builder-"))
    best: dict = {}
    for _ in range(rounds):
        t0 = time.process_time()
        loaded = [marshal.loads(r) for r in spooled]
        t1 = time.process_time()
        rows = [builder.build(r) for r in loaded]
        t2 = time.process_time()
        builder.write_batch_file(out_dir, (1, n), rows, (1, 0))
        t3 = time.process_time()
        for key, value in (("unmarshal", t1 - t0), ("build", t2 - t1), ("arrow file", t3 - t2), ("total", t3 - t0)):
            best[key] = min(best.get(key, value), value)
    shutil.rmtree(out_dir, ignore_errors=True)
    return {k: v / n * 1e6 for k, v in best.items()}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    call_command("migrate", verbosity=0)
    for mode in ("json", "sse"):
        parts = measure(mode, n, rounds)
        print(f"{mode:5s} " + "  ".join(f"{k} {v:6.1f} µs" for k, v in parts.items()))


if __name__ == "__main__":
    main()
