"""The floor: a bare ASGI pass-through with no auth, parsing or logging.

/proxy/<provider>/<rest> goes to BENCH_UPSTREAM/<rest> over one pooled aiohttp
ClientSession, the response streamed back as it arrives. Whatever the real
proxy costs above this is the price of its features.
"""
from __future__ import annotations

import os

import aiohttp

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:8080").rstrip("/")
HOP_BY_HOP = {b"host", b"content-length", b"connection", b"keep-alive", b"transfer-encoding"}
DROP_RESPONSE = {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}

_session: aiohttp.ClientSession | None = None


def _get_session() -> aiohttp.ClientSession:
    # Created lazily: daphne does not run the lifespan protocol.
    global _session
    if _session is None or _session.closed:
        _session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=60),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )
    return _session


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _session is not None:
                await _session.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    path = scope["path"]
    if path.startswith("/proxy/"):
        path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
    url = UPSTREAM + path
    if scope.get("query_string"):
        url += "?" + scope["query_string"].decode("latin-1")
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k not in HOP_BY_HOP]
    async with _get_session().request(scope["method"], url, data=body, headers=headers) as upstream:
        out = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in upstream.headers.items()
            if k.lower() not in DROP_RESPONSE
        ]
        if upstream.content_length is not None:
            data = await upstream.read()
            out.append((b"content-length", str(len(data)).encode()))
            await send({"type": "http.response.start", "status": upstream.status, "headers": out})
            await send({"type": "http.response.body", "body": data})
            return
        await send({"type": "http.response.start", "status": upstream.status, "headers": out})
        async for chunk in upstream.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
