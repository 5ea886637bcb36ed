"""Load from a separate process: wrk with a Lua script for the POST and the percentiles.

wrk's --latency table has no p95, so the script's done() prints one JSON line
with p50/p95/p99 (microseconds) and the error counts.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCHJSON {{\\"requests\\":%d,\\"duration_us\\":%d,\\"bytes\\":%d,\\"connect\\":%d,\\"read\\":%d," ..
    "\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d,\\"p50\\":%d,\\"p95\\":%d,\\"p99\\":%d," ..
    "\\"mean\\":%.1f,\\"max\\":%d}}\\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max))
end
"""


def _lua(value: str) -> str:
    return "[==[" + value + "]==]"


def write_script(path: Path, body: bytes, headers: dict[str, str]) -> Path:
    headers = {"Content-Type": "application/json", **headers}
    # The spaces matter: "[[" would open a Lua long string.
    lines = "\n".join(f"wrk.headers[ {_lua(k)} ] = {_lua(v)}" for k, v in headers.items())
    path.write_text(SCRIPT.format(body=_lua(body.decode()), headers=lines))
    return path


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float = float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_binary() -> str:
    return shutil.which("wrk") or "/usr/bin/wrk"


def run_wrk(url: str, script: Path, *, connections: int, seconds: float, timeout_s: int = 5) -> WrkResult:
    """One bounded wrk run (1 thread): stops after `seconds`, each request times out after timeout_s."""
    assert url.startswith("http://127.0.0.1:"), "the benchmark only loads this machine"
    argv = [
        wrk_binary(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        f"--timeout", f"{timeout_s}s", "-s", str(script), url,
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + timeout_s + 30)
    line = next((l for l in out.stdout.splitlines() if l.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError("wrk gave no result: " + " ".join((out.stderr or out.stdout).split())[-300:])
    d = json.loads(line[len("BENCHJSON "):])
    errors = d["connect"] + d["read"] + d["write"] + d["status"] + d["timeout"]
    return WrkResult(
        requests=d["requests"],
        seconds=d["duration_us"] / 1e6,
        errors=errors,
        p50_ms=d["p50"] / 1000,
        p95_ms=d["p95"] / 1000,
        p99_ms=d["p99"] / 1000,
        mean_ms=d["mean"] / 1000,
        max_ms=d["max"] / 1000,
    )


def wrk_version() -> str:
    out = subprocess.run([wrk_binary(), "-v"], capture_output=True, text=True)
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0] if first else "wrk"
