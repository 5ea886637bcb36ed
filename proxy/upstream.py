"""One pooled keep-alive aiohttp session per event loop, created on first use.

aiohttp measured ~12x faster than httpx at 32 concurrent requests on this path.
"""
from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket

import aiohttp
from aiohttp.abc import AbstractResolver

_sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}


class GuardedResolver(AbstractResolver):
    """The default resolver, minus cloud-metadata and link-local answers.

    Base URLs are checked when a key is saved, but a name can be re-pointed later
    (DNS rebinding): checking here, when a new connection is made, closes that gap
    at no per-request cost (connections are pooled, answers cached by aiohttp)."""

    def __init__(self):
        self._inner = aiohttp.DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        from spanlens.core.endpoints import is_refused_address

        answers = await self._inner.resolve(host, port, family)
        allowed = [a for a in answers if not is_refused_address(ipaddress.ip_address(a["host"].split("%", 1)[0]))]
        if not allowed:
            raise OSError(errno.EHOSTUNREACH,
                          f"{host} resolves only to addresses an upstream may not have (cloud metadata, link-local)")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    current = _sessions.get(loop)
    if current is None or current.closed:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300, resolver=GuardedResolver())
        current = aiohttp.ClientSession(
            connector=connector,
            # Bodies pass through byte for byte; we ask upstream for identity anyway.
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, connect=10),
            skip_auto_headers=("User-Agent", "Content-Type", "Accept-Encoding"),
        )
        _sessions[loop] = current
    return current


async def close() -> None:
    loop = asyncio.get_running_loop()
    current = _sessions.pop(loop, None)
    if current is not None:
        await current.close()
