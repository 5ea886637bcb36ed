"""ASGI entry: the proxy (plain ASGI) beside Django, and WebSockets via Channels.

/proxy/* and /health go straight to the proxy app: no Django request machinery
on the hot path; /mcp to the MCP server (streamable HTTP). Everything else is Django.
"""
from __future__ import annotations

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanlens.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from django.conf import settings  # noqa: E402

from proxy.app import proxy_app, proxy_call  # noqa: E402
from spanlens.core import invalidation  # noqa: E402
from spanlens.core.accesslog import with_access_log  # noqa: E402
from spanlens.mcp_server import http as mcp_http  # noqa: E402
from spanlens.requestlog.writer import start_web_writer  # noqa: E402
from spanlens.routing import websocket_urlpatterns  # noqa: E402

# Every web process listens for key changes made by the others (needs REDIS_URL).
invalidation.start_listener()
# And keeps a crash spool of its log rows, replaying what a killed predecessor left.
start_web_writer()


def _http_router(proxy, django):
    async def route(scope, receive, send):
        path = scope["path"]
        if path.startswith("/proxy/") or path == "/health":
            await proxy(scope, receive, send)
        elif path == mcp_http.PATH or path.startswith(mcp_http.PATH + "/"):
            await mcp_http.mcp_app(scope, receive, send)
        else:
            await django(scope, receive, send)

    return route


async def _lifespan(scope, receive, send):
    # The proxy answers the lifespan protocol; the MCP session manager lives for as long.
    async with mcp_http.running():
        await proxy_app(scope, receive, send)


http_app = _http_router(proxy_app, django_app)
if settings.ACCESS_LOG:
    http_app = with_access_log(http_app)

# Everything imported so far lives as long as the process: keep it out of the cyclic
# collector's scans, so a full collection under load takes microseconds, not the tens
# of milliseconds a heap of Django, the detectors and the SDKs costs (a tail-latency stall).
gc.collect()
gc.freeze()

router = ProtocolTypeRouter(
    {
        "http": http_app,
        # Sockets ride on the session cookie, so another site's page must not open one.
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        "lifespan": _lifespan,
    }
)

_LOG_PROXY_CALLS = settings.ACCESS_LOG


async def application(scope, receive, send):
    # The proxy's calls go straight to it, past the router and the access-log wrapper:
    # every layer is a coroutine frame each resume passes through (~10 µs a call in all).
    if scope["type"] == "http" and scope["path"].startswith("/proxy/"):
        await proxy_call(scope, receive, send, log_line=_LOG_PROXY_CALLS)
    else:
        await router(scope, receive, send)
