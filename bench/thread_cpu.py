"""`python -m bench.thread_cpu [json|sse] [seconds]`: CPU per call of each thread, logged vs not.

Starts nginx and Spanlens (uvicorn, builder on) as `make bench` does and drives c=32
with wrk, alternating calls that are logged and calls sent with
`x-spanlens-sample: drop`, two rounds each; from /proc it prints the CPU each thread
of the web process and its log builder spent per call (µs), so what logging adds to
the event loop, the builder and chDB's threads reads off one server in one run.
"""
from __future__ import annotations

import collections
import os
import sys
import time
from pathlib import Path

import orjson

from bench import targets as T
from bench.load import run_wrk, write_script
from bench.run import BODIES
from bench.server_memory import _role, _tree, spanlens_behind_nginx

TICK = os.sysconf("SC_CLK_TCK")


def _threads(pids: list[int]) -> dict[tuple[int, str], tuple[str, float]]:
    out = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                name = (task / "comm").read_text().strip()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[pid, task.name] = (name, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "json"
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    tmp, upstream, target = spanlens_behind_nginx("spanlens-thread-cpu-")
    try:
        T.start_all([target])
        for _ in range(2):
            for drop in (False, True):
                headers = {**target.headers, **({"x-spanlens-sample": "drop"} if drop else {})}
                script = write_script(tmp / "load.lua", orjson.dumps(BODIES[mode]), headers)
                run_wrk(target.url, script, connections=32, seconds=1)
                time.sleep(1.5)
                pids = _tree(target.server.proc.pid)
                main_tid = str(target.server.proc.pid)
                before = _threads(pids)
                result = run_wrk(target.url, script, connections=32, seconds=seconds)
                time.sleep(1.0)  # the writer catches up
                after = _threads(pids)
                calls = result.rps * seconds
                spent: collections.Counter = collections.Counter()
                for key, (name, cpu) in after.items():
                    role = _role(key[0])
                    label = "event loop" if key[1] == main_tid else name
                    spent[role, label] += cpu - before.get(key, (name, 0.0))[1]
                print(f"\n{mode} {'not logged' if drop else 'logged'}: {result.rps:.0f} req/s, "
                      f"{sum(spent.values()) / calls * 1e6:.0f} µs of CPU a call")
                for (role, label), cpu in spent.most_common():
                    if cpu > 0.02:
                        print(f"  {role:8s} {label:20s} {cpu / calls * 1e6:7.1f} µs a call")
    finally:
        T.stop_all([target])
        upstream.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
