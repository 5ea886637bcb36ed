"""The Python SDK used as an app would use it, against the live Spanlens server.

Provider calls go to a recording server standing in for the proxy; where the
proxy's log writer would link a request to its span, the tests call the same
services.link_request_to_span it calls.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import httpx
import pytest

import spanlens
from spanlens.openai import create_async_openai, create_openai
from spanlens.anthropic import create_anthropic
from spanlens.sdk import client as sdk_client
from spanlens.traces import services
from spanlens.traces.models import Span, Trace
from tests.recording_upstream import RecordingUpstream

pytestmark = pytest.mark.usefixtures("live_db")


@pytest.fixture
def upstream():
    server = RecordingUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def sdk(spanlens_server, api_key):
    """A Spanlens client for the owner's project; it is the default client during the test."""
    previous = sdk_client._default
    client = spanlens.Spanlens(api_key=api_key[1], base_url=spanlens_server.url, flush_interval=0.05).set_default()
    yield client
    client.shutdown()
    sdk_client._default = previous


def get_trace(server, raw_key, trace_id) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/traces/{trace_id}", headers={"Authorization": f"Bearer {raw_key}"})


def link_like_the_proxy(org, recorded: dict, *, tokens=(21, 7, 28), cost="0.00001050") -> uuid.UUID:
    request_id = uuid.uuid4()
    services.link_request_to_span(
        org.id, recorded["headers"]["x-spanlens-trace-id"], recorded["headers"]["x-spanlens-span-id"],
        request_id, recorded["body"]["model"], *tokens, Decimal(cost),
    )
    return request_id


def test_a_traced_agent_records_nested_spans_and_its_llm_call(sdk, upstream, spanlens_server, api_key, org):
    llm = create_openai(api_key=api_key[1], base_url=upstream.url)

    @spanlens.observe(name="search_orders", span_type="tool")
    def search_orders(customer: str) -> list[str]:
        with spanlens.observe(name="orders-db", span_type="retrieval") as span:
            span.set_output({"rows": 2})
        return ["A-1", "A-2"]

    @spanlens.observe(span_type="tool")
    def answer(question: str) -> str:
        orders = search_orders("c-42")
        reply = llm.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"{question} {orders}"}],
            extra_headers=spanlens.with_user("u-1").headers,
        )
        return reply.choices[0].message.content

    with sdk.trace(name="support-agent", user_id="u-1", session_id="s-9") as trace:
        assert answer("Where is my order?") == "The order ships Monday."

    call = upstream.requests[0]
    assert call["headers"]["x-spanlens-trace-id"] == trace.id
    assert call["headers"]["x-spanlens-user"] == "u-1"
    assert call["headers"]["authorization"] == f"Bearer {api_key[1]}"
    request_id = link_like_the_proxy(org, call)
    assert sdk.flush(10)

    data = get_trace(spanlens_server, api_key[1], trace.id).json()["data"]
    assert (data["name"], data["status"], data["user_id"], data["session_id"]) == (
        "support-agent", "completed", "u-1", "s-9")
    spans = {s["name"]: s for s in data["spans"]}
    assert set(spans) == {"test_a_traced_agent_records_nested_spans_and_its_llm_call.<locals>.answer",
                          "search_orders", "orders-db", "gpt-4o-mini"}
    root = spans["test_a_traced_agent_records_nested_spans_and_its_llm_call.<locals>.answer"]
    assert root["parent_span_id"] is None
    assert spans["search_orders"]["parent_span_id"] == root["id"]
    assert spans["search_orders"]["input"] == {"customer": "c-42"}
    assert spans["search_orders"]["output"] == ["A-1", "A-2"]
    assert spans["orders-db"]["parent_span_id"] == spans["search_orders"]["id"]
    llm_span = spans["gpt-4o-mini"]
    assert llm_span["id"] == call["headers"]["x-spanlens-span-id"]
    assert (llm_span["span_type"], llm_span["parent_span_id"]) == ("llm", root["id"])
    assert llm_span["output"]["content"] == "The order ships Monday."
    assert (llm_span["request_id"], llm_span["total_tokens"], llm_span["cost_usd"]) == (
        str(request_id), 28, "0.00001050")
    assert (data["span_count"], data["total_tokens"], data["total_cost_usd"]) == (4, 28, "0.00001050")
    assert data["duration_ms"] >= root["duration_ms"]


def test_parallel_branches_under_asyncio_gather_get_the_right_parents(sdk, upstream, spanlens_server, api_key):
    llm = create_async_openai(api_key=api_key[1], base_url=upstream.url)

    @spanlens.observe(name="lookup", span_type="tool")
    async def lookup(i: int) -> int:
        await asyncio.sleep(0.01 * (5 - i))  # branches finish in reverse order
        async with spanlens.observe(name=f"fetch-{i}", span_type="retrieval"):
            await asyncio.sleep(0.001)
        await llm.chat.completions.create(model=f"model-{i}", messages=[{"role": "user", "content": str(i)}])
        return i

    async def agent():
        async with sdk.trace(name="fan-out") as trace:
            async with spanlens.observe(name="plan", span_type="custom") as plan:
                assert await asyncio.gather(*(lookup(i) for i in range(5))) == [0, 1, 2, 3, 4]
            return trace, plan

    trace, plan = asyncio.run(agent())
    assert sdk.flush(10)
    spans = get_trace(spanlens_server, api_key[1], trace.id).json()["data"]["spans"]
    by_id = {s["id"]: s for s in spans}
    assert len(spans) == 1 + 5 * 3
    for i in range(5):
        [fetch] = [s for s in spans if s["name"] == f"fetch-{i}"]
        [model_call] = [s for s in spans if s["name"] == f"model-{i}"]
        branch = by_id[fetch["parent_span_id"]]
        assert branch["name"] == "lookup" and branch["input"] == {"i": i}
        assert model_call["parent_span_id"] == branch["id"]
        assert branch["parent_span_id"] == plan.id
    headers = [r["headers"] for r in upstream.requests]
    assert {h["x-spanlens-span-id"] for h in headers} == {s["id"] for s in spans if s["span_type"] == "llm"}


def test_a_streamed_call_lasts_until_the_stream_is_read(sdk, upstream, spanlens_server, api_key):
    llm = create_openai(api_key=api_key[1], base_url=upstream.url)
    with sdk.trace(name="streaming") as trace:
        stream = llm.chat.completions.create(model="gpt-4o-mini", stream=True,
                                             messages=[{"role": "user", "content": "x"}])
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "The order ships."
    assert sdk.flush(10)
    [span] = get_trace(spanlens_server, api_key[1], trace.id).json()["data"]["spans"]
    assert span["span_type"] == "llm" and span["metadata"]["streamed"] is True
    assert span["duration_ms"] >= 250  # three chunks 100 ms apart, not just the headers


def test_an_async_streamed_call_lasts_until_the_stream_is_read(sdk, upstream, spanlens_server, api_key):
    llm = create_async_openai(api_key=api_key[1], base_url=upstream.url)

    async def run():
        async with sdk.trace(name="async-streaming") as trace:
            stream = await llm.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                       messages=[{"role": "user", "content": "x"}])
            async for _ in stream:
                pass
        return trace

    trace = asyncio.run(run())
    assert sdk.flush(10)
    [span] = get_trace(spanlens_server, api_key[1], trace.id).json()["data"]["spans"]
    assert span["duration_ms"] >= 250


def test_a_call_inside_an_llm_span_reports_as_that_span(sdk, upstream, api_key, spanlens_server):
    llm = create_anthropic(api_key=api_key[1], base_url=upstream.url)
    with sdk.trace(name="claude") as trace:
        with spanlens.observe(name="summarise", span_type="llm") as span:
            llm.messages.create(model="claude-haiku-4-5", max_tokens=50,
                                messages=[{"role": "user", "content": "hi"}])
    headers = upstream.requests[0]["headers"]
    # The Spanlens key stands in for the Anthropic key (x-api-key or bearer, by SDK version).
    assert api_key[1] in (headers.get("x-api-key"), headers.get("authorization", "").removeprefix("Bearer "))
    assert (headers["x-spanlens-trace-id"], headers["x-spanlens-span-id"]) == (trace.id, span.id)
    assert sdk.flush(10)
    assert [s["name"] for s in get_trace(spanlens_server, api_key[1], trace.id).json()["data"]["spans"]] == [
        "summarise"]


def test_failures_mark_spans_and_the_trace_as_errors(sdk, upstream, spanlens_server, api_key):
    upstream.status = 400
    llm = create_openai(api_key=api_key[1], base_url=upstream.url, max_retries=0)

    @spanlens.observe(span_type="tool")
    def flaky():
        raise RuntimeError("tool exploded")

    with pytest.raises(RuntimeError):
        with sdk.trace(name="doomed") as trace:
            with pytest.raises(Exception):
                llm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
            flaky()
    assert sdk.flush(10)
    data = get_trace(spanlens_server, api_key[1], trace.id).json()["data"]
    assert data["status"] == "error"
    errors = {s["name"]: s["error"] for s in data["spans"]}
    assert errors["gpt-4o-mini"] == "HTTP 400"
    assert errors["test_failures_mark_spans_and_the_trace_as_errors.<locals>.flaky"] == "RuntimeError: tool exploded"


def test_observe_without_a_trace_starts_one(sdk, spanlens_server, api_key):
    @spanlens.observe(name="nightly-job")
    def job():
        return spanlens.current_trace().id

    trace_id = job()
    assert sdk.flush(10)
    data = get_trace(spanlens_server, api_key[1], trace_id).json()["data"]
    assert (data["name"], data["status"], data["span_count"]) == ("nightly-job", "completed", 1)


def test_a_retried_batch_does_not_double_anything(spanlens_server, api_key):
    trace_id = str(uuid.uuid4())
    batch = {
        "traces": [{"id": trace_id, "name": "retry", "status": "completed"}],
        "spans": [{"id": str(uuid.uuid4()), "trace_id": trace_id, "name": f"s{i}", "total_tokens": 10,
                   "cost_usd": "0.25", "started_at": "2026-11-20T10:00:00Z", "ended_at": "2026-11-20T10:00:01Z"}
                  for i in range(3)],
    }
    for _ in range(3):
        response = httpx.post(f"{spanlens_server.url}/api/v1/ingest", json=batch,
                              headers={"Authorization": f"Bearer {api_key[1]}"})
        assert response.status_code == 200
    trace = Trace.objects.get(id=trace_id)
    assert (trace.span_count, trace.total_tokens, trace.total_cost_usd) == (3, 30, Decimal("0.75"))


def test_spans_wait_while_spanlens_is_down_and_arrive_when_it_is_back(api_key):
    from spanlens.asgi import application
    from tests.live import ThreadedServer

    later = ThreadedServer(application)  # the port is reserved but nobody listens yet
    client = spanlens.Spanlens(api_key=api_key[1], base_url=later.url, flush_interval=0.05, set_default=False)
    started = time.monotonic()
    with client.trace(name="offline") as trace:
        for i in range(20):
            with trace.span(f"step-{i}", "tool"):
                pass
    assert time.monotonic() - started < 0.5  # the app never waits on Spanlens
    assert client.flush(timeout=0.5) is False
    assert not Trace.objects.filter(id=trace.id).exists()

    later.start()
    try:
        assert client.flush(timeout=10) is True
        stored = Trace.objects.get(id=trace.id)
        assert (stored.status, stored.span_count) == ("completed", 20)
        assert client.dropped == 0
    finally:
        client.shutdown()
        later.stop()


def test_other_organizations_cannot_read_a_trace(sdk, spanlens_server, api_key, other_org_and_project, client,
                                                 outsider):
    from spanlens.core import services as core_services

    with sdk.trace(name="private") as trace:
        pass
    assert sdk.flush(10)
    outsider_key = core_services.create_api_key(other_org_and_project[1]).raw_key
    response = get_trace(spanlens_server, outsider_key, trace.id)
    assert response.status_code == 404 and response.json() == {"success": False, "error": "trace not found"}
    listed = httpx.get(f"{spanlens_server.url}/api/v1/traces", headers={"Authorization": f"Bearer {outsider_key}"})
    assert listed.json()["data"] == []
    client.force_login(outsider)
    assert client.get(f"/traces/{trace.id}").status_code == 404


def test_bad_input_gets_a_4xx_with_a_reason(spanlens_server, api_key):
    url = f"{spanlens_server.url}/api/v1/ingest"
    auth = {"Authorization": f"Bearer {api_key[1]}"}
    response = httpx.post(url, json={"spans": [{"id": "1", "trace_id": "2"}]}, headers=auth)
    assert response.status_code == 400
    assert response.json() == {"success": False, "error": "spans[0].id: must be a UUID"}
    assert httpx.post(url, content=b"{", headers=auth).status_code == 400
    assert httpx.post(url, json={}, headers={"Authorization": "Bearer sl_live_nope"}).status_code == 401
    assert Span.objects.count() == 0


def test_trace_sampling_keeps_about_the_rate_and_sampled_out_traces_send_nothing(sdk, upstream, api_key):
    llm = create_openai(api_key=api_key[1], base_url=upstream.url)
    kept = 0
    for _ in range(1000):
        with sdk.trace(name="sampled", sample_rate=0.2) as trace:
            kept += trace.sampled
    assert 0.15 < kept / 1000 < 0.25

    with sdk.trace(name="dropped", sample_rate=0.0) as trace:
        with spanlens.observe(name="inside") as span:
            llm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert not trace.sampled and span.id is None
    assert "x-spanlens-trace-id" not in upstream.requests[-1]["headers"]
    assert sdk.flush(10)
    assert Trace.objects.filter(name="sampled").count() == kept
    assert not Trace.objects.filter(name="dropped").exists()


@pytest.mark.parametrize("always_log_errors, header", [(False, "drop"), (True, "errors")])
def test_call_sampling_marks_about_the_rate_of_calls(upstream, api_key, always_log_errors, header):
    llm = create_openai(api_key=api_key[1], base_url=upstream.url,
                        sampling={"rate": 0.3, "always_log_errors": always_log_errors})
    for _ in range(300):
        llm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    marks = [r["headers"].get("x-spanlens-sample") for r in upstream.requests]
    assert set(marks) <= {None, header}
    kept = marks.count(None) / len(marks)
    assert 0.2 < kept < 0.4  # 300 calls at 30%: 5 standard deviations either side


def test_through_the_real_proxy_the_llm_span_gets_its_request_tokens_and_cost(
    sdk, upstream, spanlens_server, api_key, project, settings
):
    """SDK client -> Spanlens proxy -> provider; the logged request links itself to its span."""
    from spanlens.core import services as core_services
    from spanlens.requestlog import queries
    from spanlens.requestlog.writer import get_writer

    core_services.add_provider_key(project, "openai", "sk-upstream-secret")
    settings.UPSTREAM_BASE_URLS = {**settings.UPSTREAM_BASE_URLS, "openai": upstream.url}
    llm = create_openai(api_key=api_key[1], base_url=spanlens_server.url)

    with sdk.trace(name="through-proxy") as trace:
        with spanlens.observe(name="answer", span_type="tool"):
            reply = llm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "The order ships Monday."
    assert upstream.requests[0]["headers"]["authorization"] == "Bearer sk-upstream-secret"
    assert sdk.flush(10)

    # The proxy queues its row (which links the span) after the response has left.
    deadline = time.monotonic() + 10
    while True:
        get_writer().flush()
        data = get_trace(spanlens_server, api_key[1], trace.id).json()["data"]
        [llm_span] = [s for s in data["spans"] if s["span_type"] == "llm"]
        if llm_span["request_id"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    logged = queries.get_request(organization_id=str(project.organization_id), request_id=llm_span["request_id"])
    assert logged["trace_id"] == trace.id or str(logged["trace_id"]) == trace.id
    assert (llm_span["prompt_tokens"], llm_span["completion_tokens"], llm_span["total_tokens"]) == (21, 7, 28)
    assert llm_span["cost_usd"] is not None and float(llm_span["cost_usd"]) > 0
    assert data["total_tokens"] == 28 and data["total_cost_usd"] == llm_span["cost_usd"]


def test_the_azure_client_goes_to_the_proxy_with_the_spanlens_key(sdk, upstream, api_key):
    from spanlens.openai import create_azure_openai

    llm = create_azure_openai(api_key=api_key[1], base_url=upstream.url, azure_deployment="support-4o",
                              log_body="meta")
    with sdk.trace(name="azure") as trace:
        llm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
                                    extra_headers=spanlens.with_session("chat-1").headers)
    call = upstream.requests[0]
    assert call["path"].startswith("/proxy/azure/openai/deployments/support-4o/chat/completions?api-version=")
    assert call["headers"]["api-key"] == api_key[1]
    assert call["headers"]["x-spanlens-log-body"] == "meta"
    assert call["headers"]["x-spanlens-session"] == "chat-1"
    assert call["headers"]["x-spanlens-trace-id"] == trace.id


def test_spans_still_queued_at_exit_are_sent(spanlens_server, api_key, tmp_path):
    import subprocess
    import sys

    trace_id = str(uuid.uuid4())
    script = tmp_path / "app.py"
    script.write_text(
        "import spanlens\n"
        "client = spanlens.Spanlens(flush_interval=60)\n"  # only the exit flush can send it
        f"with client.trace(name='short-lived', id='{trace_id}'):\n"
        "    with spanlens.observe(name='work', span_type='tool'):\n"
        "        pass\n"
    )
    env = {"SPANLENS_API_KEY": api_key[1], "SPANLENS_BASE_URL": spanlens_server.url, "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, str(script)], check=True, timeout=60, env=env)
    trace = Trace.objects.get(id=trace_id)
    assert (trace.name, trace.status, trace.span_count) == ("short-lived", "completed", 1)


def test_the_gemini_client_carries_the_trace_sync_and_async(sdk, upstream, api_key):
    pytest.importorskip("google.genai")
    from spanlens.gemini import create_gemini

    gemini = create_gemini(api_key=api_key[1], base_url=upstream.url, sampling={"rate": 0.0,
                                                                                "always_log_errors": True})
    with sdk.trace(name="gemini") as trace:
        reply = gemini.models.generate_content(model="gemini-2.0-flash", contents="hi")

        async def later():
            return await gemini.aio.models.generate_content(model="gemini-2.0-flash", contents="again")

        asyncio.run(later())
    assert reply.text == "Hello from Gemini"
    for call in upstream.requests:
        assert call["path"].startswith("/proxy/gemini/") and ":generateContent" in call["path"]
        assert call["headers"]["x-goog-api-key"] == api_key[1]
        assert call["headers"]["x-spanlens-trace-id"] == trace.id
        assert call["headers"]["x-spanlens-sample"] == "errors"
    assert len(upstream.requests) == 2


def test_a_long_step_shows_as_running_before_it_ends(sdk, spanlens_server, api_key):
    with sdk.trace(name="long") as trace:
        with spanlens.observe(name="crawl", span_type="tool") as span:
            assert sdk.flush(10)
            running = Span.objects.get(id=span.id)
            assert (running.status, running.ended_at) == ("running", None)
            assert Trace.objects.get(id=trace.id).status == "running"
    assert sdk.flush(10)
    done = Span.objects.get(id=span.id)
    assert done.status == "completed" and done.duration_ms is not None
    assert Trace.objects.get(id=trace.id).span_count == 1
