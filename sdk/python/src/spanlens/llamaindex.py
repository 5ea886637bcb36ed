"""LlamaIndex: a callback handler that records queries, retrievals, embeddings, LLM calls
and tool calls as spans.

    from llama_index.core import Settings
    from llama_index.core.callbacks import CallbackManager
    from spanlens.llamaindex import SpanlensLlamaIndexHandler

    Settings.callback_manager = CallbackManager([SpanlensLlamaIndexHandler()])

Events nest by LlamaIndex's own parent ids. Inside an open Spanlens trace (or span) they
join it; otherwise each LlamaIndex trace (a query, an index build) becomes a Spanlens
trace. While an LLM event runs, its span is the current one, so a call made with a
spanlens.openai client links its logged request (tokens, cost) to that span.
Needs llama-index-core.
"""
from __future__ import annotations

import threading
from typing import Any

try:
    from llama_index.core.callbacks import CBEventType, EventPayload
    from llama_index.core.callbacks.base_handler import BaseCallbackHandler
except ImportError as exc:  # pragma: no cover - depends on the app's environment
    raise ImportError("spanlens.llamaindex needs llama-index-core: pip install llama-index-core") from exc

from spanlens.sdk import adopt
from spanlens.sdk.client import Spanlens, get_client
from spanlens.sdk.tracing import SpanHandle, TraceHandle, current_span, current_trace

SPAN_TYPES = {
    CBEventType.LLM: "llm",
    CBEventType.FUNCTION_CALL: "tool",
    CBEventType.RETRIEVE: "retrieval",
    CBEventType.EMBEDDING: "embedding",
}
# Bookkeeping events that would only clutter the waterfall.
QUIET = [CBEventType.CHUNKING, CBEventType.NODE_PARSING, CBEventType.TEMPLATING]
_ROOT = "root"


class SpanlensLlamaIndexHandler(BaseCallbackHandler):
    """Record LlamaIndex callback events as Spanlens spans (see the module docstring)."""

    def __init__(
        self,
        client: Spanlens | None = None,
        *,
        trace_name: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        ignore: list[CBEventType] | None = None,
    ) -> None:
        ignored = QUIET if ignore is None else ignore
        super().__init__(event_starts_to_ignore=ignored, event_ends_to_ignore=ignored)
        self.client = client
        self.trace_name = trace_name
        self.user_id = user_id
        self.session_id = session_id
        self._spans: dict[str, SpanHandle] = {}
        self._trace: TraceHandle | None = None  # the trace a LlamaIndex trace started here
        self._lock = threading.Lock()

    # --- LlamaIndex traces ---------------------------------------------------------------

    def start_trace(self, trace_id: str | None = None) -> None:
        with self._lock:
            if self._trace is None and current_trace() is None:
                self._trace = self._new_trace(trace_id or "llamaindex")

    def end_trace(self, trace_id: str | None = None, trace_map: dict[str, list[str]] | None = None) -> None:
        with self._lock:
            trace, self._trace = self._trace, None
        if trace is not None:
            trace.end("error" if trace.status == "error" else "completed")

    # --- events ----------------------------------------------------------------------------

    def on_event_start(self, event_type: CBEventType, payload: dict[str, Any] | None = None,
                       event_id: str = "", parent_id: str = "", **kwargs: Any) -> str:
        with self._lock:
            parent = self._spans.get(parent_id) if parent_id and parent_id != _ROOT else None
            if parent is not None:
                trace, parent_span_id = parent.trace, parent.id
            elif self._trace is not None:
                trace, parent_span_id = self._trace, None
            elif current_trace() is not None:
                trace, parent_span_id = current_trace(), getattr(current_span(), "id", None)
            else:
                return event_id  # no trace to join and none started: nothing to record
            span_type = SPAN_TYPES.get(event_type, "custom")
            span = SpanHandle(trace, _name(event_type, payload), span_type, parent_id=parent_span_id,
                              input=_input(event_type, payload), id=adopt.as_uuid(event_id),
                              metadata={"llamaindex_event": event_type.value}).start()
            self._spans[event_id] = span
        if span_type == "llm":
            adopt.enter(span)
        return event_id

    def on_event_end(self, event_type: CBEventType, payload: dict[str, Any] | None = None,
                     event_id: str = "", **kwargs: Any) -> None:
        with self._lock:
            span = self._spans.pop(event_id, None)
        if span is None:
            return
        if span.span_type == "llm":
            adopt.leave(span)
        payload = payload or {}
        error = payload.get(EventPayload.EXCEPTION)
        if error is None:
            span.set_output(_output(event_type, payload))
            _usage(span, payload)
        elif isinstance(span.trace, TraceHandle) and span.trace is self._trace:
            span.trace.status = "error"
        span.end(error=error)

    def _new_trace(self, name: str) -> TraceHandle | None:
        client = self.client or get_client()
        if client is None:
            return None
        trace = client.trace(self.trace_name or name, user_id=self.user_id, session_id=self.session_id)
        return trace.start() if isinstance(trace, TraceHandle) else None


def _name(event_type: CBEventType, payload: dict[str, Any] | None) -> str:
    payload = payload or {}
    if event_type == CBEventType.FUNCTION_CALL and payload.get(EventPayload.TOOL) is not None:
        return str(getattr(payload[EventPayload.TOOL], "name", "tool"))
    if event_type == CBEventType.LLM:
        serialized = payload.get(EventPayload.SERIALIZED) or {}
        return str(serialized.get("model") or payload.get(EventPayload.MODEL_NAME) or "llm")
    return event_type.value


def _input(event_type: CBEventType, payload: dict[str, Any] | None) -> Any:
    payload = payload or {}
    for key in (EventPayload.MESSAGES, EventPayload.PROMPT, EventPayload.QUERY_STR, EventPayload.FUNCTION_CALL,
                EventPayload.CHUNKS):
        if key in payload:
            value = payload[key]
            if key == EventPayload.MESSAGES:
                return [{"role": str(getattr(m, "role", "")), "content": getattr(m, "content", str(m))}
                        for m in value]
            if key == EventPayload.CHUNKS:
                return {"chunks": len(value)}
            return value
    return None


def _output(event_type: CBEventType, payload: dict[str, Any]) -> Any:
    if EventPayload.RESPONSE in payload:
        response = payload[EventPayload.RESPONSE]
        message = getattr(response, "message", None)
        if message is not None:
            return {"role": str(getattr(message, "role", "assistant")), "content": message.content}
        return getattr(response, "response", None) or str(response)
    if EventPayload.COMPLETION in payload:
        return getattr(payload[EventPayload.COMPLETION], "text", str(payload[EventPayload.COMPLETION]))
    if EventPayload.NODES in payload:
        return [{"score": getattr(n, "score", None), "text": n.node.get_content()[:500]}
                for n in payload[EventPayload.NODES]]
    if EventPayload.FUNCTION_OUTPUT in payload:
        return payload[EventPayload.FUNCTION_OUTPUT]
    if EventPayload.EMBEDDINGS in payload:
        return {"embeddings": len(payload[EventPayload.EMBEDDINGS])}
    return None


def _usage(span: SpanHandle, payload: dict[str, Any]) -> None:
    response = payload.get(EventPayload.RESPONSE) or payload.get(EventPayload.COMPLETION)
    raw = getattr(response, "raw", None)
    usage = getattr(raw, "usage", None) or (raw.get("usage") if isinstance(raw, dict) else None)
    if usage is None:
        return
    get = (lambda k: usage.get(k)) if isinstance(usage, dict) else (lambda k: getattr(usage, k, None))
    span.set_usage(model=getattr(raw, "model", None) or (raw.get("model") if isinstance(raw, dict) else None),
                   prompt_tokens=get("prompt_tokens"), completion_tokens=get("completion_tokens"),
                   total_tokens=get("total_tokens"))
