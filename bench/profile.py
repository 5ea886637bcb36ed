"""`python -m bench.profile [json|sse][-drop|-bare] [seconds]`: where the proxy spends its CPU under load.

Starts nginx and Spanlens (uvicorn, production settings) like `make bench`,
drives c=32 with wrk while py-spy samples the server (all threads, native
frames off), and prints the functions with the most samples: self time (the
frame on top) and total time (anywhere on the stack). The raw collapsed
stacks stay in the temp dir for a flame graph.
"""
from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import orjson

from bench import targets as T
from bench.installers import ensure_tools, say
from bench.load import run_wrk, write_script
from bench.run import BODIES
from bench.upstream import Upstream

# BENCH_PROFILE_GIL=1: sample only the thread holding the GIL (CPU actually spent in Python).
EXTRA = ["--gil"] if __import__("os").environ.get("BENCH_PROFILE_GIL") == "1" else []
# BENCH_PROFILE_BUILDER=1: sample the log builder child (where logged rows are built) instead.
BUILDER = __import__("os").environ.get("BENCH_PROFILE_BUILDER") == "1"


def _builder_pid(parent: int) -> int:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    for pid in children:
        if b"spanlens.requestlog.builder" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return int(pid)
    raise SystemExit("no log builder child (LOG_BUILD_PROCESS=0?)")


def top(collapsed: Path, n: int = 25) -> tuple[int, list, list]:
    own: collections.Counter = collections.Counter()
    total: collections.Counter = collections.Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        count = int(count)
        frames = stack.split(";")
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    return samples, own.most_common(n), total.most_common(n)


def main() -> int:
    # "json-drop" / "sse-drop": the same calls marked not to be logged (the proxy's own path);
    # "json-bare" / "sse-bare": the bare pass-through, the floor to compare that path with.
    mode, _, variant = (sys.argv[1] if len(sys.argv) > 1 else "json").partition("-")
    drop = variant == "drop"
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    ensure_tools()
    tmp = Path(tempfile.mkdtemp(prefix="spanlens-profile-"))
    upstream = Upstream(tmp).start()
    seed = tmp / "var-seed"
    setup = T.spanlens_setup(seed, upstream.url)
    target = (T.passthrough("uvicorn", upstream.url, tmp) if variant == "bare"
              else T.spanlens("uvicorn", upstream.url, tmp, seed, setup))
    try:
        T.start_all([target])
        headers = {**target.headers, **({"x-spanlens-sample": "drop"} if drop else {})}
        script = write_script(tmp / "load.lua", orjson.dumps(BODIES[mode]), headers)
        run_wrk(target.url, script, connections=32, seconds=2)  # warm
        out = tmp / "stacks.txt"
        results = []
        load = threading.Thread(target=lambda: results.append(
            run_wrk(target.url, script, connections=32, seconds=seconds + 2)), daemon=True)
        load.start()
        say(f"py-spy: {seconds} s of {mode} at c=32 through {target.label}")
        pid = _builder_pid(target.server.proc.pid) if BUILDER else target.server.proc.pid
        subprocess.run([py_spy, "record", "--pid", str(pid), "--duration", str(seconds),
                        "--rate", "250", "--format", "raw", "--threads", *EXTRA, "--output", str(out), "--nonblocking"],
                       check=True, capture_output=True)
        load.join()
    finally:
        T.stop_all([target])
        upstream.stop()
    samples, own, total = top(out)
    if results:
        r = results[0]
        print(f"load: {r.rps:.0f} req/s, p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, errors {r.errors} "
              "(under the profiler)")
    print(f"{samples} samples ({mode}, c=32, {seconds} s); raw stacks: {out}")
    print("\nSelf (top of stack):")
    for frame, count in own:
        print(f"  {count / samples * 100:5.1f}%  {frame}")
    print("\nTotal (anywhere on stack):")
    for frame, count in total:
        print(f"  {count / samples * 100:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
