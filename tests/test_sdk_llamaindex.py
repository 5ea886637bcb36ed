"""The LlamaIndex callback handler: a real llama-index-core query (index, retrieval,
synthesis) whose LLM calls the mock upstream through the proxy with a spanlens.openai
client, recorded as one trace; the LLM span carries the logged request."""
from __future__ import annotations

import time
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

import httpx  # noqa: E402
from llama_index.core import Document, Settings, VectorStoreIndex  # noqa: E402
from llama_index.core.callbacks import CallbackManager  # noqa: E402
from llama_index.core.embeddings import MockEmbedding  # noqa: E402
from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata  # noqa: E402
from llama_index.core.llms.callbacks import llm_completion_callback  # noqa: E402
from pydantic import PrivateAttr  # noqa: E402

import spanlens  # noqa: E402
from spanlens.llamaindex import SpanlensLlamaIndexHandler  # noqa: E402
from spanlens.openai import create_openai  # noqa: E402
from spanlens.traces.models import Span  # noqa: E402
from tests import mock_upstream as mock  # noqa: E402

pytestmark = pytest.mark.usefixtures("live_db")


class ProxiedChat(CustomLLM):
    """An LLM whose completions are chat calls through the Spanlens proxy."""

    model: str = "gpt-4o-mini"
    _client: Any = PrivateAttr()

    def __init__(self, client, **kwargs):
        super().__init__(**kwargs)
        self._client = client

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs) -> CompletionResponse:
        reply = self._client.chat.completions.create(model=self.model, messages=[{"role": "user", "content": prompt}])
        return CompletionResponse(text=reply.choices[0].message.content, raw=reply.model_dump())

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs):
        raise NotImplementedError


@pytest.fixture
def handler(spanlens_server, api_key):
    client = spanlens.Spanlens(api_key=api_key[1], base_url=spanlens_server.url, set_default=False)
    handler = SpanlensLlamaIndexHandler(client, user_id="cust-5")
    before = Settings.callback_manager
    Settings.callback_manager = CallbackManager([handler])
    yield handler
    Settings.callback_manager = before
    client.shutdown()


def _get(url: str, key: str, path: str):
    response = httpx.get(f"{url}{path}", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_a_query_becomes_one_trace_with_retrieval_and_a_linked_llm_span(spanlens_server, api_key, upstream,
                                                                       provider_keys, handler):
    index = VectorStoreIndex.from_documents(
        [Document(text="Order A-1 shipped on Monday."), Document(text="Returns take five days.")],
        embed_model=MockEmbedding(embed_dim=8))
    llm = ProxiedChat(create_openai(api_key=api_key[1], base_url=spanlens_server.url, max_retries=0))
    answer = index.as_query_engine(llm=llm, similarity_top_k=1).query("Where is order A-1?")
    assert str(answer) == mock.REPLY
    assert handler.client.flush(10)

    [listed] = _get(spanlens_server.url, api_key[1], "/api/v1/traces?name=query")
    assert listed["user_id"] == "cust-5" and listed["status"] == "completed"
    spans = _get(spanlens_server.url, api_key[1], f"/api/v1/traces/{listed['id']}")["spans"]
    by_id = {s["id"]: s for s in spans}
    [query] = [s for s in spans if s["name"] == "query"]
    [retrieve] = [s for s in spans if s["span_type"] == "retrieval"]
    [llm_span] = [s for s in spans if s["span_type"] == "llm"]
    assert query["parent_span_id"] is None and query["input"] == "Where is order A-1?"
    assert retrieve["parent_span_id"] == query["id"]
    assert len(retrieve["output"]) == 1 and retrieve["output"][0]["text"] in (
        "Order A-1 shipped on Monday.", "Returns take five days.")
    # The LLM call sits under synthesis, inside the query.
    chain, parent = [], llm_span
    while parent["parent_span_id"]:
        parent = by_id[parent["parent_span_id"]]
        chain.append(parent["name"])
    assert chain[-1] == "query" and "synthesize" in chain
    assert llm_span["output"] == mock.REPLY

    deadline = time.monotonic() + 10
    while not Span.objects.filter(id=llm_span["id"], request_id__isnull=False).exists():
        assert time.monotonic() < deadline, "the proxied call was not linked to the LLM span"
        time.sleep(0.05)
    linked = Span.objects.get(id=llm_span["id"])
    assert (linked.prompt_tokens, linked.completion_tokens) == (mock.PROMPT_TOKENS, mock.COMPLETION_TOKENS)
    assert linked.cost_usd is not None and float(linked.cost_usd) > 0


def test_inside_an_open_trace_a_query_joins_it_and_a_failing_llm_marks_its_span(spanlens_server, api_key, upstream,
                                                                                provider_keys, handler):
    index = VectorStoreIndex.from_documents([Document(text="Order A-1 shipped.")],
                                            embed_model=MockEmbedding(embed_dim=8))
    llm = ProxiedChat(create_openai(api_key=api_key[1], base_url=spanlens_server.url, max_retries=0),
                      model="gpt-4o-mini+error-500")
    with handler.client.trace(name="support") as trace:
        with spanlens.observe(name="answer") as step:
            with pytest.raises(Exception):
                index.as_query_engine(llm=llm).query("Where is A-1?")
    assert handler.client.flush(10)
    spans = _get(spanlens_server.url, api_key[1], f"/api/v1/traces/{trace.id}")["spans"]
    [query] = [s for s in spans if s["name"] == "query"]
    [llm_span] = [s for s in spans if s["span_type"] == "llm"]
    assert query["parent_span_id"] == step.id
    assert llm_span["status"] == "error" and "500" in llm_span["error"]
