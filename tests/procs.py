"""Spanlens in a subprocess, for tests that need a separate process with its own
environment (a dependency pointed at a closed port, several workers, …)."""
from __future__ import annotations

import base64
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
KEY = base64.b64encode(b"p" * 32).decode()


def free_port() -> int:
    """A port nothing listens on (bound then released): 'connection refused' there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "SPANLENS_VAR_DIR": str(tmp_path / "var"),
        "CHDB_PATH": str(tmp_path / "var" / "clickhouse"),
        "ENCRYPTION_KEY": KEY,
        "SECRET_KEY": "subprocess-secret-key",
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def database_url_for(name: str) -> str:
    """TEST_DATABASE_URL with another database name (the pytest-django test database)."""
    base = os.environ.get("TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test")
    return base.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def spawn(argv: list[str], env: dict[str, str], url: str | None = None, cwd: Path = ROOT):
    """Run argv; when url is given, wait until it answers. Stopped (SIGTERM) on exit."""
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        if url:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{argv} exited {proc.returncode}:\n{proc.stdout.read()}")
                try:
                    httpx.get(url, timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{argv} did not answer on {url}")
                    time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def web_server(tmp_path: Path, **env: str):
    """uvicorn serving spanlens.asgi on a free port, in its own process."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "spanlens.asgi:application", "--port", str(port),
            "--log-level", "warning"]
    with spawn(argv, base_env(tmp_path, **env), url=f"http://127.0.0.1:{port}/health"):
        yield f"http://127.0.0.1:{port}"
