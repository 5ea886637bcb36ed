"""/mcp: the MCP server over streamable HTTP, inside the Spanlens ASGI app.

Stateless and JSON-answering: every POST carries the key and is answered on its
own, so any web worker (or replica) can take any request and nothing is held
between calls. A request without a usable key is refused here, before the MCP
machinery, with the API's JSON error.

The MCP SDK takes a second or two to import and holds ~40 MB (pydantic, starlette,
anyio), so it loads with the first /mcp request, on a thread, not when the server
starts: a process nobody asks over MCP never holds it, and that first request waits
for it.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

import orjson
from asgiref.sync import sync_to_async

from spanlens.mcp_server.keys import KeyRefused, access_for_key, bearer

log = logging.getLogger(__name__)

PATH = "/mcp"
READY_WAIT_S = 60

# One MCP server per event loop that serves the app: its session manager runs a task group
# bound to the loop whose lifespan started it (tests run several servers in one process).
_apps: dict[asyncio.AbstractEventLoop, object] = {}
_ready: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}
# Set when the app's lifespan ends; the server task, once the first request started it.
_stops: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}
_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


def _resolve(ctx):
    return access_for_key(bearer(ctx.headers))


def _admit(raw: str | None, client_ip: str | None) -> None:
    from django.db import connections

    try:
        access_for_key(raw, client_ip)
    finally:
        connections.close_all()


async def _json(send, status: int, payload: dict, *extra) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *extra]})
    await send({"type": "http.response.body", "body": orjson.dumps(payload)})


async def mcp_app(scope, receive, send):
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    client = scope.get("client")
    try:
        await sync_to_async(_admit, thread_sensitive=False)(bearer(headers), client[0] if client else None)
    except KeyRefused as exc:
        await _json(send, exc.status, {"success": False, "error": str(exc)}, (b"www-authenticate", b"Bearer"))
        return
    loop = asyncio.get_running_loop()
    ready = _ready.get(loop)
    if ready is not None and loop not in _tasks:
        _tasks[loop] = asyncio.create_task(_serve(loop, _stops[loop]))
    if ready is not None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ready.wait(), READY_WAIT_S)
    app = _apps.get(loop)
    if app is None:
        await _json(send, 503, {"success": False, "error": "the MCP endpoint is not running; try again"})
        return
    await app(scope, receive, send)


def _build():
    from mcp.server.transport_security import TransportSecuritySettings

    from spanlens.mcp_server.server import build_server

    server = build_server(_resolve)
    # The key, not the Host header, is what admits a caller: DNS-rebinding checks (meant for
    # unauthenticated local servers) would refuse every name a reverse proxy serves under.
    app = server.streamable_http_app(
        streamable_http_path=PATH, stateless_http=True, json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return server, app


async def _serve(loop, stop: asyncio.Event) -> None:
    try:
        server, app = await asyncio.to_thread(_build)
        gc.freeze()  # the SDK's modules live for good too (see spanlens/asgi.py)
        async with server.session_manager.run():
            _apps[loop] = app
            _ready[loop].set()
            await stop.wait()
    except Exception:
        log.exception("the MCP endpoint could not start")
    finally:
        _apps.pop(loop, None)
        _ready[loop].set()  # a waiting request gets its 503 rather than hanging


@contextlib.asynccontextmanager
async def running():
    """The MCP server and its session manager's task group, from the first /mcp request
    to the end of the app's lifespan."""
    loop = asyncio.get_running_loop()
    _ready[loop] = asyncio.Event()
    _stops[loop] = stop = asyncio.Event()
    try:
        yield
    finally:
        stop.set()
        task = _tasks.pop(loop, None)
        if task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
        _ready.pop(loop, None)
        _stops.pop(loop, None)
