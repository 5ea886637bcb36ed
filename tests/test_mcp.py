"""The MCP server through the official mcp client: streamable HTTP at /mcp on a real
server, and stdio (`manage.py mcp`); read tools scoped to the key's organization."""
import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from spanlens.core import services as core_services
from spanlens.mcp_server.tools import period_bounds
from spanlens.traces import services as trace_services
from tests import mock_upstream as mock
from tests.costs import usd
from tests.test_log_spool import server_env  # noqa: F401  (a fixture: a real server process's environment)

TOOLS = {"stats", "query_requests", "get_request", "list_traces", "get_trace", "users", "anomalies", "savings"}


def http_client(server, key):
    return Client(streamable_http_client(f"{server.url}/mcp", http_client=create_mcp_http_client(
        headers={"Authorization": f"Bearer {key}"})))


async def call_all(client_factory, calls):
    async with client_factory() as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        answers = []
        for name, arguments in calls:
            result = await client.call_tool(name, arguments)
            answers.append((result.is_error, result.structured_content if not result.is_error
                            else result.content[0].text))
        return names, answers


@pytest.fixture
def traffic(live_db, upstream, provider_keys, openai_client, org, project, read_rows):
    """Two calls by cust-42 through the proxy and one trace, all in the owner's organization."""
    for _ in range(2):
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Why is the sky blue?"}],
            extra_headers={"x-spanlens-user": "cust-42"},
        )
    rows = read_rows(org.id, expect=2)
    trace_id = uuid.uuid4()
    now = datetime.now(timezone.utc)
    trace_services.ingest(
        organization_id=org.id, project_id=project.id,
        traces=[{"id": trace_id, "name": "support-agent", "status": "completed", "started_at": now,
                 "ended_at": now + timedelta(seconds=2)}],
        spans=[{"id": uuid.uuid4(), "trace_id": trace_id, "name": "lookup_order", "span_type": "tool",
                "status": "completed", "started_at": now, "ended_at": now + timedelta(seconds=1)}],
    )
    return {"rows": rows, "trace_id": str(trace_id)}


def test_an_assistant_reads_stats_requests_traces_and_users_over_http(traffic, sl_key, spanlens_server):
    request_id = traffic["rows"][0]["id"]
    names, answers = asyncio.run(call_all(lambda: http_client(spanlens_server, sl_key), [
        ("stats", {"period": "today"}),
        ("query_requests", {"userId": "cust-42", "limit": 5}),
        ("get_request", {"request_id": request_id}),
        ("list_traces", {"name": "support"}),
        ("get_trace", {"trace_id": traffic["trace_id"]}),
        ("users", {}),
        ("anomalies", {}),
        ("savings", {}),
    ]))

    assert TOOLS <= names
    assert not any(is_error for is_error, _ in answers), answers
    stats, listed, one, traces, trace, users, anomalies, savings = (a for _, a in answers)
    cost = usd((mock.PROMPT_TOKENS, "0.15"), (mock.COMPLETION_TOKENS, "0.60"))
    assert stats["requests"] == 2 and stats["errors"] == 0
    assert stats["prompt_tokens"] == 2 * mock.PROMPT_TOKENS
    assert stats["cost_usd"] == pytest.approx(float(2 * cost))
    assert stats["by_model"][0]["model"] == mock.DATED_MODELS["gpt-4o-mini"]
    assert listed["total"] == 2 and {r["user_id"] for r in listed["requests"]} == {"cust-42"}
    assert one["id"] == request_id and "Why is the sky blue?" in json.dumps(one["request_body"])
    assert [t["name"] for t in traces["traces"]] == ["support-agent"]
    assert [s["name"] for s in trace["spans"]] == ["lookup_order"]
    assert users["users"][0]["user_id"] == "cust-42" and users["users"][0]["requests"] == 2
    assert anomalies == {"anomalies": []}
    assert savings["top"] == [] and savings["monthly_saving_usd"] == 0


def test_bad_arguments_come_back_as_tool_errors_naming_the_argument(live_db, sl_key, spanlens_server):
    _, answers = asyncio.run(call_all(lambda: http_client(spanlens_server, sl_key), [
        ("stats", {"period": "fortnight"}),
        ("query_requests", {"status": "purple"}),
        ("get_request", {"request_id": "nope"}),
        ("get_trace", {"trace_id": str(uuid.uuid4())}),
        ("users", {"limit": 1000}),
    ]))
    assert all(is_error for is_error, _ in answers)
    messages = [text for _, text in answers]
    assert "period" in messages[0] and "status" in messages[1] and "request_id" in messages[2]
    assert "not found" in messages[3] and "limit" in messages[4]


def test_it_checks_ownership(traffic, outsider, spanlens_server):
    _, other_project = core_services.create_organization("Other Inc", outsider)
    other_key = core_services.create_api_key(other_project).raw_key
    _, answers = asyncio.run(call_all(lambda: http_client(spanlens_server, other_key), [
        ("stats", {"period": "today"}),
        ("get_request", {"request_id": traffic["rows"][0]["id"]}),
        ("get_trace", {"trace_id": traffic["trace_id"]}),
        ("query_requests", {}),
    ]))
    assert answers[0] == (False, answers[0][1]) and answers[0][1]["requests"] == 0
    assert answers[1][0] and answers[2][0]
    assert answers[3][1]["total"] == 0


def test_http_needs_a_key_with_the_read_scope(live_db, project, spanlens_server):
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    assert httpx.post(f"{spanlens_server.url}/mcp", json=initialize, headers=headers).status_code == 401
    revoked = core_services.create_api_key(project)
    core_services.revoke_api_key(revoked.api_key)
    refused = httpx.post(f"{spanlens_server.url}/mcp", json=initialize,
                         headers={**headers, "Authorization": f"Bearer {revoked.raw_key}"})
    assert refused.status_code == 401 and refused.json()["success"] is False
    ingest_only = core_services.create_api_key(project, scopes=["ingest"]).raw_key
    scoped = httpx.post(f"{spanlens_server.url}/mcp", json=initialize,
                        headers={**headers, "Authorization": f"Bearer {ingest_only}"})
    assert scoped.status_code == 403 and "read" in scoped.json()["error"]


def test_stdio_mode_serves_the_same_tools_scoped_to_the_key_given_at_start(traffic, org, sl_key):
    """What `manage.py mcp` runs on stdio when it opens the log itself: the server with the key's access
    fixed at start (connected in-process here; the stdio relay runs for real in test_embedded_commands)."""
    from spanlens.mcp_server.keys import access_for_key
    from spanlens.mcp_server.server import build_server

    access = access_for_key(sl_key)
    names, answers = asyncio.run(call_all(lambda: Client(build_server(lambda ctx: access)),
                                          [("stats", {"period": "today"}), ("users", {})]))
    assert TOOLS <= names
    assert answers[0][1]["requests"] == 2
    assert answers[1][1]["users"][0]["user_id"] == "cust-42"


def test_named_periods_are_utc_days():
    now = datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc)
    since, until = period_bounds("yesterday", None, None, now=now)
    assert since == datetime(2026, 3, 9, tzinfo=timezone.utc)
    assert until < datetime(2026, 3, 10, tzinfo=timezone.utc) and until > datetime(2026, 3, 9, 23, 59, tzinfo=timezone.utc)
    assert period_bounds("7d", None, None, now=now)[0] == now - timedelta(days=7)
    assert period_bounds(None, "2026-03-01", "2026-03-02", now=now)[1] == datetime(2026, 3, 2, tzinfo=timezone.utc)


def test_a_web_process_loads_the_mcp_library_with_its_first_mcp_request(server_env):
    """The MCP SDK (pydantic and all, ~40 MB) is not in a web process nobody has asked over
    MCP; the first /mcp request loads it and is answered."""
    from pathlib import Path
    from types import SimpleNamespace

    from tests.test_log_spool import call, start

    env, key = server_env
    ctx, base = start(env)
    with ctx as proc:
        call(base, key)  # the proxy and the dashboard's API serve without it
        assert httpx.get(f"{base}/api/v1/requests", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert "_pydantic_core" not in Path(f"/proc/{proc.pid}/maps").read_text()

        async def tools():
            async with http_client(SimpleNamespace(url=base), key) as client:
                return {tool.name for tool in (await client.list_tools()).tools}

        assert TOOLS <= asyncio.run(tools())
        assert "_pydantic_core" in Path(f"/proc/{proc.pid}/maps").read_text()
