"""The MCP server: read tools over one organization's data, for stdio and streamable HTTP.

Who is asking is a Spanlens API key with the `read` scope: given once at start
for stdio (`manage.py mcp`), sent as `Authorization: Bearer sl_live_…` on every
HTTP request to /mcp. The tools run the same scoped reads as the REST API, in a
worker thread (the ORM is synchronous).
"""
from __future__ import annotations

from typing import Any, Callable

from asgiref.sync import sync_to_async
from django.db import connections
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from spanlens.core.access import Access
from spanlens.mcp_server import tools
from spanlens.mcp_server.keys import KeyRefused

INSTRUCTIONS = (
    "Spanlens logs every LLM call an organization makes (provider, model, tokens, cost, latency, "
    "status, bodies) and its traces. Use stats for totals of a period (cost, tokens, errors, by model and "
    "by day), query_requests to find calls (the /requests filters), get_request for one call with its "
    "bodies, list_traces and get_trace for agent runs, users for spend per end user, anomalies and "
    "savings for what changed and what could be cheaper. Money is USD; times are UTC."
)
READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)


def build_server(resolve: Callable[[Context], Access]) -> MCPServer:
    """resolve(ctx) names the caller's organization for each tool call (it may raise KeyRefused)."""
    server = MCPServer(name="spanlens", instructions=INSTRUCTIONS)

    async def run(ctx: Context, answer: Callable[[Access], Any]) -> Any:
        def call():
            try:
                return answer(resolve(ctx))
            except (tools.ToolInputError, KeyRefused) as exc:
                raise ToolError(str(exc)) from None
            finally:
                # A pool thread outside Django's request cycle: nothing else would close its connections.
                connections.close_all()

        return await sync_to_async(call, thread_sensitive=False)()

    @server.tool(annotations=READ_ONLY)
    async def stats(ctx: Context, period: str = "24h", start: str | None = None, end: str | None = None) -> dict[str, Any]:
        """Totals for a period: requests, errors, tokens, cost (USD), latency, with cost by model and by day.

        period: 1h, 24h, 7d, 30d, today or yesterday (UTC days); or give start and end (ISO 8601) instead.
        """
        return await run(ctx, lambda a: tools.stats(a, period=period, start=start, end=end))

    @server.tool(annotations=READ_ONLY)
    async def query_requests(
        ctx: Context,
        provider: str | None = None,
        model: str | None = None,
        status: str | None = None,
        userId: str | None = None,
        sessionId: str | None = None,
        projectId: str | None = None,
        promptVersionId: str | None = None,
        flag: str | None = None,
        cacheHit: str | None = None,
        q: str | None = None,
        start: str | None = None,
        end: str | None = None,
        sortBy: str = "created_at",
        sortDir: str = "desc",
        page: int = 1,
        limit: int = 20,
    ) -> dict[str, Any]:
        """Logged LLM calls, newest first, with the /requests page's filters (no bodies; use get_request).

        status: all, ok, 4xx or 5xx. model matches part of the name. q searches bodies and errors.
        start/end: ISO 8601. sortBy: created_at, latency_ms, cost_usd, total_tokens. limit: at most 100.
        """
        filters = {"provider": provider, "model": model, "status": status, "userId": userId,
                   "sessionId": sessionId, "projectId": projectId, "promptVersionId": promptVersionId,
                   "flag": flag, "cacheHit": cacheHit, "q": q, "from": start, "to": end, "sortBy": sortBy,
                   "sortDir": sortDir, "page": page, "limit": limit}
        return await run(ctx, lambda a: tools.query_requests(a, filters))

    @server.tool(annotations=READ_ONLY)
    async def get_request(ctx: Context, request_id: str) -> dict[str, Any]:
        """One logged call with its request and response bodies, tokens, cost, latency and error."""
        return await run(ctx, lambda a: tools.get_request(a, request_id))

    @server.tool(annotations=READ_ONLY)
    async def list_traces(
        ctx: Context,
        status: str | None = None,
        name: str | None = None,
        userId: str | None = None,
        sessionId: str | None = None,
        start: str | None = None,
        end: str | None = None,
        sort: str = "-started_at",
        page: int = 1,
        limit: int = 20,
    ) -> dict[str, Any]:
        """Traces (agent runs, one per interaction) with span count, tokens, cost and duration.

        status: running, completed, error. sort: started_at, name, status, duration, spans, tokens, cost
        (prefix - for descending).
        """
        filters = {"status": status, "name": name, "userId": userId, "sessionId": sessionId, "from": start,
                   "to": end, "sort": sort, "page": page, "limit": limit}
        return await run(ctx, lambda a: tools.list_traces(a, filters))

    @server.tool(annotations=READ_ONLY)
    async def get_trace(ctx: Context, trace_id: str) -> dict[str, Any]:
        """One trace with all its spans (inputs, outputs, tokens, cost, errors), in start order."""
        return await run(ctx, lambda a: tools.get_trace(a, trace_id))

    @server.tool(annotations=READ_ONLY)
    async def users(ctx: Context, sort: str = "cost_usd", limit: int = 20, page: int = 1) -> dict[str, Any]:
        """End users (x-spanlens-user) with their requests, tokens, cost, errors and last call.

        sort: cost_usd, requests, last_seen or user_id (descending; prefix - for ascending).
        """
        return await run(ctx, lambda a: tools.users(a, sort=sort, limit=limit, page=page))

    @server.tool(annotations=READ_ONLY)
    async def anomalies(ctx: Context, limit: int = 5) -> dict[str, Any]:
        """Open anomalies: sudden changes in cost, errors, latency or traffic, most recent first."""
        return await run(ctx, lambda a: tools.anomalies(a, limit=limit))

    @server.tool(annotations=READ_ONLY)
    async def savings(ctx: Context) -> dict[str, Any]:
        """Where the organization could spend less (cheaper models, caching), with the estimated savings."""
        return await run(ctx, lambda a: tools.savings(a))

    return server
