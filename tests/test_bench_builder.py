"""`python -m bench.builder`: the log builder's CPU per row, printed for both call shapes."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_builder_benchmark_prints_a_cost_per_row_for_json_and_streams():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPANLENS_", "CHDB_", "DATABASE_", "LOG_"))}
    run = subprocess.run([sys.executable, "-m", "bench.builder", "30", "2"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    # A row that failed to build would have logged "could not build a request-log row".
    assert "could not build" not in run.stderr
    for mode in ("json", "sse"):
        line = next(l for l in run.stdout.splitlines() if l.startswith(mode + " "))
        costs = dict(re.findall(r"(unmarshal|build|arrow file|total)\s+([\d.]+) µs", line))
        assert set(costs) == {"unmarshal", "build", "arrow file", "total"}, line
        assert 0 < float(costs["build"]) < float(costs["total"]), line


def test_the_batch_format_benchmark_inserts_both_formats_and_prints_their_costs():
    """`python -m bench.batch_formats`: Arrow and JSONEachRow files of the same rows, each
    written and inserted into chDB (an insert chDB refused would end the run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPANLENS_", "CHDB_", "DATABASE_", "LOG_"))}
    run = subprocess.run([sys.executable, "-m", "bench.batch_formats", "json", "1"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    printed = dict(re.findall(r"^json (\w+ \w+)\s+best\s+([\d.]+) µs", run.stdout, re.M))
    assert set(printed) == {"Arrow encode", "Arrow insert", "JSONEachRow encode", "JSONEachRow insert"}, run.stdout
    assert all(float(v) > 0 for v in printed.values()), printed


def test_the_store_benchmark_times_each_read_both_ways():
    """`python -m bench.store_overhead`: the same reads in a process with chDB and through a
    store process, on one folder (a store that could not open it would end the run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPANLENS_", "CHDB_", "DATABASE_", "LOG_"))}
    run = subprocess.run([sys.executable, "-m", "bench.store_overhead", "2000"], cwd=ROOT,
                         env={**env, "BENCH_STORE_REPEATS": "5"}, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = re.findall(r"^\| (.+?) \| ([\d.]+) / ([\d.]+) \| ([\d.]+) / ([\d.]+) \| [+-][\d.]+ \|$", run.stdout, re.M)
    assert [r[0] for r in rows] == ["round trip (SELECT 1)", "count", "page of 50 summaries",
                                    "page of 50 with bodies (~150 KB)"], run.stdout
    assert all(float(v) > 0 for r in rows for v in r[1:]), rows
    assert re.search(r"starting a store and its first read: \d+ ms", run.stdout), run.stdout
