"""/mcp: the MCP server over streamable HTTP, inside the Spanlens ASGI app.

Stateless and JSON-answering: every POST carries the key and is answered on its
own, so any web worker (or replica) can take any request and nothing is held
between calls. A request without a usable key is refused here, before the MCP
machinery, with the API's JSON error.
"""
from __future__ import annotations

import asyncio
import contextlib

import orjson
from asgiref.sync import sync_to_async
from mcp.server.transport_security import TransportSecuritySettings

from spanlens.mcp_server.server import KeyRefused, access_for_key, bearer, build_server

PATH = "/mcp"


def _resolve(ctx):
    return access_for_key(bearer(ctx.headers))


def _admit(raw: str | None, client_ip: str | None) -> None:
    from django.db import connections

    try:
        access_for_key(raw, client_ip)
    finally:
        connections.close_all()


# One MCP server per event loop that serves the app: its session manager runs a task group
# bound to the loop whose lifespan started it (tests run several servers in one process).
_apps: dict[asyncio.AbstractEventLoop, object] = {}


async def mcp_app(scope, receive, send):
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    client = scope.get("client")
    try:
        await sync_to_async(_admit, thread_sensitive=False)(bearer(headers), client[0] if client else None)
    except KeyRefused as exc:
        body = orjson.dumps({"success": False, "error": str(exc)})
        await send({"type": "http.response.start", "status": exc.status,
                    "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": body})
        return
    app = _apps.get(asyncio.get_running_loop())
    if app is None:
        body = orjson.dumps({"success": False, "error": "the MCP endpoint is starting; try again"})
        await send({"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    await app(scope, receive, send)


@contextlib.asynccontextmanager
async def running():
    """The MCP server and its session manager's task group, for as long as the app's lifespan."""
    server = build_server(_resolve)
    # The key, not the Host header, is what admits a caller: DNS-rebinding checks (meant for
    # unauthenticated local servers) would refuse every name a reverse proxy serves under.
    app = server.streamable_http_app(
        streamable_http_path=PATH, stateless_http=True, json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    loop = asyncio.get_running_loop()
    async with server.session_manager.run():
        _apps[loop] = app
        try:
            yield
        finally:
            _apps.pop(loop, None)
