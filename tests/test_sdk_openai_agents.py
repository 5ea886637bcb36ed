"""The OpenAI Agents SDK trace processor: a real agent run (the openai-agents package,
its chat-completions model on a spanlens.openai client) through the proxy to the mock
upstream, recorded as one trace whose generation span carries the logged request."""
from __future__ import annotations

import asyncio
import time

import pytest

agents = pytest.importorskip("agents")

import httpx  # noqa: E402

import spanlens  # noqa: E402
from spanlens.openai import create_async_openai  # noqa: E402
from spanlens.openai_agents import SpanlensTraceProcessor  # noqa: E402
from spanlens.traces.models import Span  # noqa: E402
from tests import mock_upstream as mock  # noqa: E402

pytestmark = pytest.mark.usefixtures("live_db")


@pytest.fixture
def processor(spanlens_server, api_key):
    client = spanlens.Spanlens(api_key=api_key[1], base_url=spanlens_server.url, set_default=False)
    processor = SpanlensTraceProcessor(client, user_id="cust-9")
    # Only ours: the default exporter would try to reach OpenAI.
    agents.set_trace_processors([processor])
    yield processor
    agents.set_trace_processors([])
    client.shutdown()


def _trace(url: str, key: str, trace_id: str) -> dict:
    response = httpx.get(f"{url}/api/v1/traces/{trace_id}", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_an_agent_run_with_a_tool_call_becomes_one_trace(spanlens_server, api_key, upstream, provider_keys,
                                                          processor):
    calls = []

    @agents.function_tool
    def get_weather(city: str, unit: str, days: list[int]) -> str:
        """The forecast for a city."""
        calls.append(city)
        return f"{city}: sunny"

    llm = create_async_openai(api_key=api_key[1], base_url=spanlens_server.url, max_retries=0)
    agent = agents.Agent(
        name="weather-agent", instructions="Answer with the forecast.", tools=[get_weather],
        model=agents.OpenAIChatCompletionsModel(model="gpt-4o-mini+tools", openai_client=llm),
        tool_use_behavior="stop_on_first_tool",
    )

    async def run():
        with agents.trace("weather-question", group_id="chat-3") as trace:
            result = await agents.Runner.run(agent, "Weather in Paris?")
        return trace.trace_id, result

    agents_trace_id, result = asyncio.run(run())
    assert result.final_output == "Paris: sunny" and calls == ["Paris"]
    assert processor.client.flush(10)

    listed = httpx.get(f"{spanlens_server.url}/api/v1/traces?name=weather-question",
                       headers={"Authorization": f"Bearer {api_key[1]}"}).json()["data"]
    assert len(listed) == 1
    trace = _trace(spanlens_server.url, api_key[1], listed[0]["id"])
    assert trace["id"].replace("-", "") == agents_trace_id.removeprefix("trace_")
    assert (trace["status"], trace["user_id"], trace["session_id"]) == ("completed", "cust-9", "chat-3")
    by_type = {}
    for span in trace["spans"]:
        by_type.setdefault(span["span_type"], []).append(span)
    [agent_span] = [s for s in trace["spans"] if s["name"] == "weather-agent"]
    [generation] = by_type["llm"]
    [tool] = by_type["tool"]
    by_id = {s["id"]: s for s in trace["spans"]}
    # Nested as the Agents SDK nests them: the run's task, the agent, its turn, then the
    # model call and the tool call.
    assert by_id[agent_span["parent_span_id"]]["name"] == "task"
    turn = by_id[generation["parent_span_id"]]
    assert turn["name"] == "turn" and turn["parent_span_id"] == agent_span["id"]
    assert tool["parent_span_id"] == turn["id"]
    assert tool["name"] == "get_weather" and tool["output"] == "Paris: sunny"
    assert tool["input"] == '{"city": "Paris", "unit": "celsius", "days": [1, 2]}'
    assert generation["name"] == "gpt-4o-mini+tools"

    # The model call went through the proxy inside the generation span: the logged
    # request is linked to it, with the log's tokens and cost.
    deadline = time.monotonic() + 10
    while not Span.objects.filter(id=generation["id"], request_id__isnull=False).exists():
        assert time.monotonic() < deadline, "the proxied call was not linked to the generation span"
        time.sleep(0.05)
    linked = Span.objects.get(id=generation["id"])
    assert (linked.prompt_tokens, linked.completion_tokens) == (mock.PROMPT_TOKENS, mock.COMPLETION_TOKENS)
    assert linked.cost_usd is not None and float(linked.cost_usd) > 0


def test_a_failing_tool_marks_its_span_and_a_run_inside_a_spanlens_trace_joins_it(
        spanlens_server, api_key, upstream, provider_keys, processor):
    @agents.function_tool
    def get_weather(city: str, unit: str, days: list[int]) -> str:
        """The forecast for a city."""
        raise RuntimeError("forecast service down")

    llm = create_async_openai(api_key=api_key[1], base_url=spanlens_server.url, max_retries=0)
    agent = agents.Agent(
        name="weather-agent", tools=[get_weather], tool_use_behavior="stop_on_first_tool",
        model=agents.OpenAIChatCompletionsModel(model="gpt-4o-mini+tools", openai_client=llm),
    )

    async def run():
        with processor.client.trace(name="outer-app") as outer:
            with spanlens.observe(name="handle-question") as step:
                await agents.Runner.run(agent, "Weather?")
        return outer, step

    outer, step = asyncio.run(run())
    assert processor.client.flush(10)
    trace = _trace(spanlens_server.url, api_key[1], outer.id)
    [task] = [s for s in trace["spans"] if s["name"] == "task"]
    [tool] = [s for s in trace["spans"] if s["span_type"] == "tool"]
    assert task["parent_span_id"] == step.id
    assert tool["status"] == "error" and tool["error"].startswith("Error running tool")
