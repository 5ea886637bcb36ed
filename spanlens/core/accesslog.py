"""One line per HTTP request: method, path, status, milliseconds. Nothing else.

The query string is left out on purpose: Gemini clients put the key in `?key=`,
and share links carry tokens. Headers and bodies never reach the line either.
The line is written after the last byte of the response went out, so the
proxy's hot path does no logging I/O before answering.
"""
from __future__ import annotations

import logging
import time

log = logging.getLogger("spanlens.access")


def with_access_log(app):
    async def logged(scope, receive, send):
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def watch(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                line(scope, status, start)

        try:
            await app(scope, receive, watch)
        except BaseException:
            if status == 0:
                line(scope, 500, start)
            raise

    return logged


def line(scope, status: int, start: float) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    ms = (time.perf_counter() - start) * 1000
    log.info("%s %s %d %.1fms", scope.get("method", "-"), scope.get("path", "-"), status, ms)
