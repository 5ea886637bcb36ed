"""Where the embedded server listens, recorded in the var dir while it runs.

chDB opens its folder in one process only, so a command that needs the
request log while `make run` is up (recent_requests, backup) must go through
the running server instead. It finds it here, whatever PORT it was started with.
"""
from __future__ import annotations

import atexit
import json
import os
import secrets
from pathlib import Path

from django.conf import settings


def path() -> Path:
    return Path(settings.VAR_DIR) / "server.json"


def record(url: str) -> None:
    """Note this server's address, and a token that lets a local command (backup) ask it
    to act on the files it holds; readable by this user only."""
    target = path()
    pid = os.getpid()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps({"url": url, "pid": pid, "control_token": secrets.token_urlsafe(32)}))

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
    import httpx  # a CLI's question; the web process that imports this module needs no HTTP client

    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def control_token() -> str | None:
    """The running server's token (see record); None when no server recorded one."""
    data = read_record()
    token = data.get("control_token") if data and _alive(data.get("pid")) else None
    return token if isinstance(token, str) else None


def running_server() -> str | None:
    """The URL of the embedded server using this var dir, when one is up."""
    data = read_record()
    if data is None or not _alive(data.get("pid")):
        return None
    return data["url"] if answers(data["url"]) else None
