"""`make bench` end to end on quick settings: every row of the report is there."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import upstream

ROOT = Path(__file__).resolve().parent.parent
MISSING = upstream.missing_tools()

pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the benchmark needs {', '.join(MISSING)} (apt-get install -y nginx wrk libnginx-mod-http-lua)",
)

ROWS = [
    "direct to nginx",
    "bare pass-through (uvicorn)",
    "Spanlens (uvicorn)",
    "Spanlens (uvicorn), not logged (x-spanlens-sample: drop)",
    "Spanlens (uvicorn), budgets and rate limits on (4 rules)",
    "LiteLLM proxy",
    "Portkey gateway",
    "bare pass-through (granian)",
    "bare pass-through (daphne)",
    "Spanlens (granian)",
    "Spanlens (daphne)",
]
SECTIONS = [
    "## Non-streaming: latency (ms)",
    "## Non-streaming: throughput and cost",
    "## Streaming: latency (ms)",
    "## Streaming: throughput and cost",
    "## Streams as a client sees them",
    "## ASGI servers",
    "## What logging costs",
    "## What budget checks cost",
    "## Proxy memory over the run",
    "## Log path",
    "## Targets",
]
TARGETS = [
    "Non-streaming: added latency c=1 p50",
    "Streaming: added latency c=1 p95",
    "Streaming: added inter-chunk delay p95",
    "≥ 50% of bare pass-through",
    "≥ 3× Portkey",
    "≥ 30× LiteLLM",
    "Logging on vs off",
    "Proxy RSS over the run",
    "Soak at c=32",
    "Rows/s into chDB",
    "Dashboard reads p95 at 10M rows",
]


@pytest.mark.timeout(400)
def test_quick_benchmark_reports_every_row(tmp_path):
    out = tmp_path / "report.md"
    # The benchmark makes its own stores; the test run's database and chDB settings must not leak in.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPANLENS_", "CHDB_", "LOG_", "DATABASE_", "REDIS_", "CELERY_", "BENCH_"))}
    env.update({"BENCH_QUICK": "1", "BENCH_OUT": str(out)})
    run = subprocess.run([sys.executable, "-m", "bench.run"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=380)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = out.read_text()
    assert report in run.stdout  # printed as well as written
    for heading in SECTIONS:
        assert heading in report
    for label in ROWS:
        assert f"| {label} |" in report, label
    for target in TARGETS:
        assert target in report, target
    # Everything that runs in quick mode produced numbers: only the skipped comparisons lack them.
    unavailable = [line for line in report.splitlines() if "not available" in line and line.startswith("| ")]
    assert all("skipped in quick mode" in line for line in unavailable), unavailable
    assert re.search(r"^\| Spanlens \(uvicorn\) \| \d", report, re.M)
    assert "rows/s through `queries.insert_requests`" in report
    # The soak's growth after its warm-up, in the memory section and against its target.
    assert re.search(r"^- Soak at c=32 for \d+ s: mean RSS \d+ MB over the first third after a", report, re.M)
    assert re.search(r"^\| Soak at c=32 for \d+ s \(BENCH_SOAK_S.*\| flat within 5% \| [+-]\d+\.\d%", report, re.M)
    # The ceiling the proxy's own path sets for the logged-vs-bare target, for both shapes.
    for title in ("Non-streaming", "Streaming"):
        assert re.search(rf"^- {title} c=32, not logged: \d+% of the bare pass-through's req/s at \d\.\d\d× its CPU",
                         report, re.M), title
