"""The LangChain callback handler: a small agent-like chain recorded as a trace."""
from __future__ import annotations

import pytest

pytest.importorskip("langchain_core")

import httpx  # noqa: E402
from langchain_core.language_models.fake_chat_models import FakeListChatModel  # noqa: E402
from langchain_core.runnables import RunnableLambda, RunnableParallel  # noqa: E402
from langchain_core.tools import tool  # noqa: E402

import spanlens  # noqa: E402
from spanlens.langchain import SpanlensCallbackHandler  # noqa: E402

pytestmark = pytest.mark.usefixtures("live_db")


@tool
def order_status(order_id: str) -> str:
    """Look up an order."""
    return f"{order_id} shipped"


@tool
def broken_tool(order_id: str) -> str:
    """Always fails."""
    raise ValueError("inventory offline")


def test_a_chain_with_parallel_tools_and_a_model_becomes_one_trace(spanlens_server, api_key):
    client = spanlens.Spanlens(api_key=api_key[1], base_url=spanlens_server.url, set_default=False)
    model = FakeListChatModel(responses=["Your order A-1 shipped."])
    gather = RunnableParallel(status=order_status, other=RunnableLambda(lambda x: "no other orders"))
    chain = (
        RunnableLambda(lambda q: "A-1").with_config(run_name="extract_order")
        | gather
        | RunnableLambda(lambda facts: f"Answer using {facts}")
        | model
    ).with_config(run_name="support-chain")

    handler = SpanlensCallbackHandler(client, user_id="cust-1")
    reply = chain.invoke("where is my order?", config={"callbacks": [handler]})
    assert reply.content == "Your order A-1 shipped."
    assert client.flush(10)

    listed = httpx.get(f"{spanlens_server.url}/api/v1/traces?name=support-chain",
                       headers={"Authorization": f"Bearer {api_key[1]}"}).json()["data"]
    assert len(listed) == 1 and listed[0]["user_id"] == "cust-1" and listed[0]["status"] == "completed"
    spans = httpx.get(f"{spanlens_server.url}/api/v1/traces/{listed[0]['id']}",
                      headers={"Authorization": f"Bearer {api_key[1]}"}).json()["data"]["spans"]
    by_name = {s["name"]: s for s in spans}
    root = by_name["support-chain"]
    assert root["parent_span_id"] is None
    assert by_name["order_status"]["span_type"] == "tool"
    assert by_name["order_status"]["output"] == "A-1 shipped"
    assert by_name["order_status"]["parent_span_id"] == by_name["RunnableParallel<status,other>"]["id"]
    [llm] = [s for s in spans if s["span_type"] == "llm"]
    assert llm["parent_span_id"] == root["id"] and llm["output"] == "Your order A-1 shipped."
    client.shutdown()


def test_a_failing_tool_marks_its_span_and_joins_an_open_trace(spanlens_server, api_key):
    client = spanlens.Spanlens(api_key=api_key[1], base_url=spanlens_server.url, set_default=False)
    with client.trace(name="outer") as trace:
        with spanlens.observe(name="step", span_type="custom") as step:
            with pytest.raises(ValueError):
                broken_tool.invoke({"order_id": "A-1"}, config={"callbacks": [SpanlensCallbackHandler(client)]})
    assert client.flush(10)
    spans = httpx.get(f"{spanlens_server.url}/api/v1/traces/{trace.id}",
                      headers={"Authorization": f"Bearer {api_key[1]}"}).json()["data"]["spans"]
    [failed] = [s for s in spans if s["name"] == "broken_tool"]
    assert failed["parent_span_id"] == step.id
    assert failed["status"] == "error" and "inventory offline" in failed["error"]
    client.shutdown()
