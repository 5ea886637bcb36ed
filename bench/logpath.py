"""The log path, in its own process with its own chDB folder (from SPANLENS_VAR_DIR/CHDB_PATH).

1. Insert throughput: realistic rows (2 KB request body, 1 KB response body)
   through queries.insert_requests in batches of LOG_BATCH_SIZE, the way the
   batch writer flushes them. Rows are built before the clock starts: making
   them is the proxy's work, writing them is the writer's.
2. Dashboard reads: rows generated inside ClickHouse up to each size in --rows,
   then every read function of queries.py timed --repeats times (p50/p95).

Prints one JSON object on its last line.
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from spanlens.requestlog import alert_queries, engine as ch_engine, insights, migrate, overview, queries, sessions  # noqa: E402

# The modules whose list_/get_/count_ functions are the dashboard's reads: the pages', /savings and
# /anomalies' (insights), and what alert rules read every minute (alert_queries).
READ_MODULES = (queries, overview, sessions, insights, alert_queries)

REQUEST_BODY = ('{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},'
                '{"role":"user","content":"' + "Summarise the quarterly report in three bullet points. " * 36)[:2040]
RESPONSE_BODY = ('{"id":"chatcmpl-x","object":"chat.completion","choices":[{"message":{"role":"assistant",'
                 '"content":"' + "Revenue grew, costs fell, outlook steady. " * 24)[:1020]


def progress(message: str) -> None:
    print(f"[bench] log path: {message}", file=sys.stderr, flush=True)


def make_rows(n: int, org: str, project: str) -> list[dict]:
    now = datetime.now(timezone.utc)
    rows = []
    for i in range(n):
        rows.append({
            "id": str(uuid.uuid4()), "organization_id": org, "project_id": project,
            "api_key_id": None, "provider_key_id": None, "provider": "openai", "model": "gpt-4o-mini",
            "endpoint": "v1/chat/completions", "method": "POST", "stream": bool(i % 2),
            "prompt_tokens": 420 + i % 50, "completion_tokens": 120 + i % 30, "total_tokens": 540 + i % 80,
            "cache_read_tokens": 0, "cache_write_tokens": 0, "cost_usd": "0.00013500",
            "latency_ms": 800 + i % 400, "proxy_overhead_ms": 1, "status_code": 200,
            # Distinct per row so compression sees real-looking, not identical, text.
            "request_body": f"{i:08d}" + REQUEST_BODY[8:], "response_body": f"{i:08d}" + RESPONSE_BODY[8:],
            "trace_id": None, "span_id": None, "prompt_version_id": None,
            "user_id": f"user-{i % 100}", "session_id": None, "log_body": "full", "flags": "[]",
            "response_flags": "[]", "truncated": False, "error_message": "",
            "created_at": queries.format_ts(now - timedelta(milliseconds=i)),
        })
    return rows


def bench_insert(n: int, batch: int) -> dict:
    org, project = str(uuid.uuid4()), str(uuid.uuid4())
    rows = make_rows(n, org, project)
    queries.insert_requests(rows[:batch])  # first insert pays one-off setup
    start = time.perf_counter()
    for i in range(batch, n, batch):
        queries.insert_requests(rows[i:i + batch])
    seconds = time.perf_counter() - start
    written = n - batch
    progress(f"inserted {written} rows in {seconds:.2f} s")
    # The same batches as JSONEachRow text, the path every batch took before Arrow.
    engine = ch_engine.get_engine()
    start = time.perf_counter()
    for i in range(batch, n, batch):
        engine.insert_json_rows("requests", ch_engine.encode_rows(rows[i:i + batch]))
    json_seconds = time.perf_counter() - start
    return {"rows": written, "batch": batch, "seconds": seconds, "rows_per_s": written / seconds,
            "body_bytes": len(REQUEST_BODY) + len(RESPONSE_BODY),
            "formats": {"insert_requests (Arrow on chDB)": written / seconds,
                        "JSONEachRow, same batches": written / json_seconds}}


def _fill(name: str, param: inspect.Parameter, ctx: dict):
    """A plausible value for a read function's required argument, by its name."""
    now = datetime.now(timezone.utc)
    guesses = {
        "project_id": ctx["project"], "request_id": ctx["request_id"], "seconds": 3600, "days": 7,
        "since": now - timedelta(days=7), "until": now, "start": now - timedelta(days=7), "end": now,
        "retention_days": 365, "limit": 50, "provider": "openai", "model": "gpt-4o-mini",
        # The anomaly detector's reads: the hour before now against the week before it.
        "now": now, "kind": "model", "key": "openai/gpt-4o-mini", "window_start": now - timedelta(hours=1),
        "window_end": now, "baseline_start": now - timedelta(hours=169),
        # Alert rules: a daily spend rule's window, the p95 latency rules' column.
        "minutes": 24 * 60, "column": "latency_ms",
        "bucket_seconds": 3600, "session_id": "session-0",
    }
    if name in guesses:
        return guesses[name]
    raise LookupError(name)


def dashboard_reads(ctx: dict) -> dict:
    """Every list_/get_/count_ function of the read modules, with its arguments filled in."""
    calls = {}
    for name, fn in [m for module in READ_MODULES for m in inspect.getmembers(module, inspect.isfunction)]:
        if fn.__module__ not in {m.__name__ for m in READ_MODULES} or not name.startswith(("list_", "get_", "count_")):
            continue
        sig = inspect.signature(fn)
        if "organization_id" not in sig.parameters:
            continue
        kwargs = {"organization_id": ctx["org"]}
        try:
            for pname, param in sig.parameters.items():
                if pname == "organization_id" or param.default is not inspect.Parameter.empty:
                    continue
                if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                    continue
                kwargs[pname] = _fill(pname, param, ctx)
        except LookupError as missing:
            calls[name] = f"skipped: no value for {missing}"
            continue
        calls[name] = (fn, kwargs)
    # What people click most on the requests page besides the default view.
    for label, extra in VARIANTS:
        base = label.split(" ")[0]
        if isinstance(calls.get(base), tuple):
            fn, kwargs = calls[base]
            calls[label] = (fn, {**kwargs, **extra(ctx)})
    return calls


VARIANTS = [
    ("list_requests (sort by latency)", lambda ctx: {"sort_by": "latency_ms"}),
    ("list_requests (page 20)", lambda ctx: {"page": 20}),
    ("list_requests (model filter)", lambda ctx: {"model": "gpt-4o"}),
    ("list_requests (last 24 h, 5xx)", lambda ctx: {"status": "5xx",
                                                    "since": datetime.now(timezone.utc) - timedelta(days=1)}),
    ("list_requests (search bodies)", lambda ctx: {"search": "question 12345"}),
    ("list_requests (project)", lambda ctx: {"project_id": ctx["project"]}),
    ("list_usage_series (30 d by user)", lambda ctx: {"dimension": "user", "bucket_seconds": 86400,
                                                      "since": datetime.now(timezone.utc) - timedelta(days=30)}),
    ("list_sessions (sort by cost)", lambda ctx: {"sort_by": "cost_usd"}),
]


def bench_reads(sizes: list[int], repeats: int) -> list[dict]:
    org, project = str(uuid.uuid4()), str(uuid.uuid4())
    # Another tenant's rows beside ours, as in a shared install.
    queries.generate_bench_rows(organization_id=str(uuid.uuid4()), project_id=str(uuid.uuid4()), count=50_000)
    out, have = [], 0
    for size in sorted(sizes):
        start = time.perf_counter()
        queries.generate_bench_rows(organization_id=org, project_id=project, count=size - have, start=have)
        progress(f"generated {size - have} rows in {time.perf_counter() - start:.1f} s")
        have = size
        recent = queries.list_recent_requests(organization_id=org, limit=1)
        ctx = {"org": org, "project": project, "request_id": recent[0]["id"] if recent else str(uuid.uuid4())}
        timings = {}
        for name, call in dashboard_reads(ctx).items():
            if isinstance(call, str):
                timings[name] = {"note": call}
                continue
            fn, kwargs = call
            samples = []
            try:
                fn(**kwargs)  # first call warms caches, as any page view after the first does
                # Fewer repeats at 10M+ rows, where a full-text search takes seconds each.
                for _ in range(repeats if size <= 1_000_000 else max(5, repeats // 4)):
                    t0 = time.perf_counter()
                    fn(**kwargs)
                    samples.append((time.perf_counter() - t0) * 1000)
            except Exception as exc:  # a read that fails is reported, not fatal
                timings[name] = {"note": f"failed: {str(exc)[:160]}"}
                continue
            samples.sort()
            timings[name] = {
                "p50_ms": statistics.median(samples),
                "p95_ms": samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))],
                "args": sorted(k for k in kwargs if k != "organization_id"),
            }
        # A term never searched before: ClickHouse's condition cache cannot help the first search.
        samples = []
        for i in range(max(3, repeats // 4)):
            t0 = time.perf_counter()
            queries.list_requests(organization_id=org, search=f"question {size // 3 + 7919 * i + 17}")
            samples.append((time.perf_counter() - t0) * 1000)
        samples.sort()
        timings["list_requests (search bodies, a new term each time)"] = {
            "p50_ms": statistics.median(samples),
            "p95_ms": samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))], "args": ["search"]}
        progress(f"timed {len(timings)} reads at {size} rows")
        out.append({"rows": size, "reads": timings})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--insert-rows", type=int, default=100_000)
    parser.add_argument("--rows", default="1000000")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    migrate.apply_migrations()
    engine = ch_engine.get_engine()
    result = {"engine": engine.name, "batch_size": settings.LOG_BATCH_SIZE}
    result["insert"] = bench_insert(max(args.insert_rows, 2 * settings.LOG_BATCH_SIZE), settings.LOG_BATCH_SIZE)
    sizes = [int(s) for s in args.rows.split(",") if s.strip()]
    result["reads"] = bench_reads(sizes, args.repeats)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
