"""Where the embedded server listens, recorded in the var dir while it runs.

chDB opens its folder in one process only, so a command that needs the
request log while `make run` is up (recent_requests, backup) must go through
the running server instead. It finds it here, whatever PORT it was started with.
"""
from __future__ import annotations

import atexit
import json
import os
from pathlib import Path

import httpx
from django.conf import settings


def path() -> Path:
    return Path(settings.VAR_DIR) / "server.json"


def record(url: str) -> None:
    target = path()
    target.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    pid = os.getpid()

    def forget():
        current = read_record()
        if current and current.get("pid") == pid:
            target.unlink(missing_ok=True)

    atexit.register(forget)


def read_record() -> dict | None:
    try:
        data = json.loads(path().read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("url"), str) else None


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def running_server() -> str | None:
    """The URL of the embedded server using this var dir, when one is up."""
    data = read_record()
    if data is None or not _alive(data.get("pid")):
        return None
    return data["url"] if answers(data["url"]) else None
