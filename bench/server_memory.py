"""`python -m bench.server_memory [seconds]`: peak and idle RSS of a `make bench`-shaped server.

Starts nginx and Spanlens (uvicorn, builder on, production settings) as `make bench`
does, drives c=32 with wrk for four runs of `seconds` (JSON, streams, JSON, streams)
while sampling the RSS of the web process, its log builder and its store every 0.25 s, reads the
request log once through the API (as the dashboard does), then reads them idle: after
12 s, and again once the log builder has rested (LOG_BUILDER_IDLE_EXIT_S and a purge
later: 72 s by default). Run it from two checkouts in turn (each with its own `bench/`
on the path: `cd <checkout> && python -m bench.server_memory`) to compare versions on
one machine.
"""
from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

from bench import targets as T
from bench.installers import ensure_tools, say
from bench.load import run_wrk, write_script
from bench.run import BODIES
from bench.upstream import Upstream


def _rss_mb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    # Children are listed per thread: a child started from a worker thread (the request-log
    # store is) is not in the main thread's list.
    children = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += (task / "children").read_text().split()
    except OSError:
        return [pid]
    return [pid] + [p for c in dict.fromkeys(children) for p in _tree(int(c))]


ROLES = ("web", "builder", "store")


def _role(pid: int) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "gone"
    for role in ROLES[1:]:
        if f"spanlens.requestlog.{role}".encode() in cmdline:
            return role
    return "web"


def _line(sizes: dict[str, int], total: int) -> str:
    return ", ".join(f"{role} {sizes.get(role, 0)}" for role in ROLES) + f", total {total}"


def spanlens_behind_nginx(prefix: str):
    """(temp dir, upstream, target): Spanlens under uvicorn as `make bench` runs it, not started."""
    ensure_tools()
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    upstream = Upstream(tmp).start()
    seed = tmp / "var-seed"
    return tmp, upstream, T.spanlens("uvicorn", upstream.url, tmp, seed, T.spanlens_setup(seed, upstream.url))


def main() -> int:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    tmp, upstream, target = spanlens_behind_nginx("spanlens-server-memory-")
    peak: dict[str, int] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            pids = _tree(target.server.proc.pid)
            sizes = {p: _rss_mb(p) for p in pids}
            for p, mb in sizes.items():
                peak[_role(p)] = max(peak.get(_role(p), 0), mb)
            peak["total"] = max(peak.get("total", 0), sum(sizes.values()))
            time.sleep(0.25)

    try:
        T.start_all([target])
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for mode in ("json", "sse", "json", "sse"):
            script = write_script(tmp / "load.lua", orjson.dumps(BODIES[mode]), target.headers)
            result = run_wrk(target.url, script, connections=32, seconds=seconds)
            say(f"{mode}: {result.rps:.0f} req/s at c=32")
        T.read_api(target)  # the dashboard's read: Django's views load too
        stop.set()
        sampler.join()
        time.sleep(12)
        idle = {_role(p): _rss_mb(p) for p in _tree(target.server.proc.pid)}
        time.sleep(max(T.idle_wait_s() - 12, 0))
        rested = {_role(p): _rss_mb(p) for p in _tree(target.server.proc.pid)}
    finally:
        T.stop_all([target])
        upstream.stop()
    print(f"peak RSS MB: {_line(peak, peak.get('total', 0))}")
    print(f"idle RSS MB (12 s): {_line(idle, sum(idle.values()))}")
    print(f"idle RSS MB ({T.idle_wait_s():.0f} s, the builder and the store rested): "
          f"{_line(rested, sum(rested.values()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
