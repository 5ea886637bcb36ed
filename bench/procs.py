"""Server processes for the benchmark: start, wait until they answer, measure, stop."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, *, method: str = "GET", body: bytes | None = None, headers: dict | None = None,
              timeout: float = 30.0, proc: subprocess.Popen | None = None) -> bool:
    """True once url answers anything at all over HTTP (any status)."""
    assert url.startswith("http://127.0.0.1:"), url
    hostport, _, path = url[len("http://"):].partition("/")
    host, _, port = hostport.partition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=2)
            conn.request(method, "/" + path, body=body, headers=headers or {"content-type": "application/json"})
            conn.getresponse().read()
            conn.close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


@dataclass
class Usage:
    cpu_s: float
    rss_bytes: int


class Server:
    """A process group we started; CPU and RSS are summed over the process and its children."""

    def __init__(self, name: str, argv: list[str], *, env: dict | None = None, cwd: Path | None = None,
                 log: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.peak_rss = 0
        self.rss_samples: list[tuple[float, int]] = []  # (monotonic time, bytes), one per usage() call

    def start(self) -> "Server":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def error_hint(self) -> str:
        """The last line of the server's log that names an error, for the report."""
        lines = [l.strip() for l in self.tail(20000).splitlines() if "rror" in l]
        return lines[-1][:160] if lines else ""

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.proc.pid)
            return [root] + root.children(recursive=True)
        except (psutil.NoSuchProcess, AttributeError):
            return []

    def usage(self) -> Usage:
        cpu, rss = 0.0, 0
        for p in self._tree():
            try:
                t = p.cpu_times()
                cpu += t.user + t.system
                rss += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        self.peak_rss = max(self.peak_rss, rss)
        if rss:
            self.rss_samples.append((time.monotonic(), rss))
        return Usage(cpu, rss)

    def rss_by_process(self) -> list[tuple[str, int]]:
        """(what it runs, RSS bytes) for the process and each child, now."""
        out = []
        for p in self._tree():
            try:
                cmd = p.cmdline()
                what = cmd[cmd.index("-m") + 1] if "-m" in cmd else os.path.basename(cmd[1] if len(cmd) > 1 else cmd[0])
                out.append((what, p.memory_info().rss))
            except (psutil.NoSuchProcess, IndexError):
                pass
        return out

    def pids(self) -> list[int]:
        return [p.pid for p in self._tree()]

    def stop(self) -> None:
        if not self.alive():
            return
        children = self._tree()[1:]
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(8)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        # A child that outlives the server on purpose (Spanlens's request-log store closes
        # chDB's folder once its parent is gone) is waited for: the next step may open that folder.
        _, left = psutil.wait_procs(children, timeout=10)
        for p in left:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
