"""LangChain: a callback handler that records chains, LLM calls, tools and retrievers as spans.

    from spanlens.langchain import SpanlensCallbackHandler
    chain.invoke(question, config={"callbacks": [SpanlensCallbackHandler()]})

Runs nest by LangChain's own parent run ids, so parallel branches keep their
parents. Inside an open Spanlens trace (or span) the runs join it; otherwise
each top-level run becomes its own trace. Needs langchain-core.
"""
from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

try:
    from langchain_core.callbacks import BaseCallbackHandler
except ImportError as exc:  # pragma: no cover - depends on the app's environment
    raise ImportError("spanlens.langchain needs langchain-core: pip install langchain-core") from exc

from spanlens.sdk.client import Spanlens, get_client
from spanlens.sdk.tracing import SpanHandle, TraceHandle, current_span, current_trace


class SpanlensCallbackHandler(BaseCallbackHandler):
    def __init__(
        self,
        client: Spanlens | None = None,
        *,
        trace_name: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
    ):
        self.client = client
        self.trace_name = trace_name
        self.user_id = user_id
        self.session_id = session_id
        self._spans: dict[UUID, SpanHandle] = {}
        self._own_traces: dict[UUID, TraceHandle] = {}  # top-level runs that started a trace
        self._lock = threading.Lock()

    # --- chains -------------------------------------------------------------------

    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, **kwargs) -> None:
        self._start(run_id, parent_run_id, _name(serialized, kwargs, "chain"), "custom", inputs, kwargs)

    def on_chain_end(self, outputs, *, run_id, **kwargs) -> None:
        self._end(run_id, output=outputs)

    def on_chain_error(self, error, *, run_id, **kwargs) -> None:
        self._end(run_id, error=error)

    # --- models ---------------------------------------------------------------------

    def on_chat_model_start(self, serialized, messages, *, run_id, parent_run_id=None, **kwargs) -> None:
        rendered = [[{"role": getattr(m, "type", "message"), "content": getattr(m, "content", str(m))}
                     for m in batch] for batch in messages]
        self._start(run_id, parent_run_id, _model_name(serialized, kwargs), "llm",
                    rendered[0] if len(rendered) == 1 else rendered, kwargs)

    def on_llm_start(self, serialized, prompts, *, run_id, parent_run_id=None, **kwargs) -> None:
        self._start(run_id, parent_run_id, _model_name(serialized, kwargs), "llm",
                    prompts[0] if len(prompts) == 1 else prompts, kwargs)

    def on_llm_end(self, response, *, run_id, **kwargs) -> None:
        span = self._spans.get(run_id)
        if span is not None:
            texts = [g.text for generations in response.generations for g in generations]
            usage = (response.llm_output or {}).get("token_usage") or (response.llm_output or {}).get("usage") or {}
            span.set_usage(
                model=(response.llm_output or {}).get("model_name"),
                prompt_tokens=usage.get("prompt_tokens") or usage.get("input_tokens"),
                completion_tokens=usage.get("completion_tokens") or usage.get("output_tokens"),
                total_tokens=usage.get("total_tokens"),
            )
            self._end(run_id, output=texts[0] if len(texts) == 1 else texts)

    def on_llm_error(self, error, *, run_id, **kwargs) -> None:
        self._end(run_id, error=error)

    # --- tools and retrievers -----------------------------------------------------------

    def on_tool_start(self, serialized, input_str, *, run_id, parent_run_id=None, inputs=None, **kwargs) -> None:
        self._start(run_id, parent_run_id, _name(serialized, kwargs, "tool"), "tool",
                    inputs if inputs is not None else input_str, kwargs)

    def on_tool_end(self, output, *, run_id, **kwargs) -> None:
        self._end(run_id, output=getattr(output, "content", output))

    def on_tool_error(self, error, *, run_id, **kwargs) -> None:
        self._end(run_id, error=error)

    def on_retriever_start(self, serialized, query, *, run_id, parent_run_id=None, **kwargs) -> None:
        self._start(run_id, parent_run_id, _name(serialized, kwargs, "retriever"), "retrieval", query, kwargs)

    def on_retriever_end(self, documents, *, run_id, **kwargs) -> None:
        self._end(run_id, output=[{"content": d.page_content, "metadata": d.metadata} for d in documents])

    def on_retriever_error(self, error, *, run_id, **kwargs) -> None:
        self._end(run_id, error=error)

    # --- bookkeeping ---------------------------------------------------------------------

    def _start(self, run_id: UUID, parent_run_id: UUID | None, name: str, span_type: str, inputs: Any,
               kwargs: dict) -> None:
        with self._lock:
            parent = self._spans.get(parent_run_id) if parent_run_id else None
            if parent is not None:
                trace, parent_id = parent.trace, parent.id
            elif current_trace() is not None:
                trace, parent_id = current_trace(), getattr(current_span(), "id", None)
            else:
                client = self.client or get_client()
                if client is None:
                    return
                trace = client.trace(self.trace_name or name, user_id=self.user_id, session_id=self.session_id)
                if not isinstance(trace, TraceHandle):
                    return  # sampled out or disabled
                trace.start()
                self._own_traces[run_id] = trace
                parent_id = None
            metadata = {k: v for k, v in (kwargs.get("metadata") or {}).items() if not k.startswith("ls_")}
            if kwargs.get("tags"):
                metadata["tags"] = kwargs["tags"]
            self._spans[run_id] = SpanHandle(trace, name, span_type, parent_id=parent_id, input=inputs,
                                             metadata=metadata, id=str(run_id)).start()

    def _end(self, run_id: UUID, *, output: Any = None, error: BaseException | None = None) -> None:
        with self._lock:
            span = self._spans.pop(run_id, None)
            trace = self._own_traces.pop(run_id, None)
        if span is None:
            return
        if output is not None:
            span.set_output(output)
        span.end(error=error)
        if trace is not None:
            trace.end("error" if error is not None else "completed")


def _name(serialized: dict | None, kwargs: dict, default: str) -> str:
    if kwargs.get("name"):
        return str(kwargs["name"])
    serialized = serialized or {}
    if serialized.get("name"):
        return str(serialized["name"])
    ids = serialized.get("id") or []
    return str(ids[-1]) if ids else default


def _model_name(serialized: dict | None, kwargs: dict) -> str:
    params = kwargs.get("invocation_params") or {}
    meta = kwargs.get("metadata") or {}
    return str(params.get("model") or params.get("model_name") or meta.get("ls_model_name")
               or _name(serialized, kwargs, "llm"))
