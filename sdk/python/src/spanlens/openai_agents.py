"""OpenAI Agents SDK: a trace processor that records agent runs as Spanlens traces.

    from agents import add_trace_processor
    from spanlens.openai_agents import SpanlensTraceProcessor

    add_trace_processor(SpanlensTraceProcessor())       # beside OpenAI's own exporter
    # or set_trace_processors([SpanlensTraceProcessor()]) to send traces only to Spanlens

Agents, tool (function) calls, model generations, handoffs and guardrails become spans,
nested as the Agents SDK nests them. A run inside an open Spanlens trace joins it;
otherwise each Agents trace becomes a Spanlens trace (its group_id as the session).
While a generation runs, its span is the current one, so a model call made with a
spanlens.openai client links its logged request (tokens, cost) to that span.
Needs openai-agents.
"""
from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

try:
    from agents.tracing import Span, Trace, TracingProcessor
except ImportError as exc:  # pragma: no cover - depends on the app's environment
    raise ImportError("spanlens.openai_agents needs openai-agents: pip install openai-agents") from exc

from spanlens.sdk import adopt
from spanlens.sdk.client import Spanlens, get_client
from spanlens.sdk.tracing import SpanHandle, TraceHandle, current_span, current_trace

_TYPES = {"generation": "llm", "response": "llm", "function": "tool", "mcp_tools": "tool"}


class SpanlensTraceProcessor(TracingProcessor):
    """Record Agents SDK traces and spans in Spanlens (see the module docstring)."""

    def __init__(self, client: Spanlens | None = None, *, user_id: str | None = None) -> None:
        self.client = client
        self.user_id = user_id
        # agents trace id -> (our trace, the span runs attach under, whether we own the trace)
        self._traces: dict[str, tuple[TraceHandle, str | None, bool]] = {}
        self._spans: dict[str, SpanHandle] = {}
        self._lock = threading.Lock()

    def on_trace_start(self, trace: Trace) -> None:
        joined = current_trace()
        if joined is not None:
            entry = (joined, getattr(current_span(), "id", None), False)
        else:
            client = self.client or get_client()
            if client is None:
                return
            exported = trace.export() or {}
            handle = client.trace(trace.name, id=adopt.as_uuid(trace.trace_id), user_id=self.user_id,
                                  session_id=exported.get("group_id"), metadata=exported.get("metadata") or None)
            if not isinstance(handle, TraceHandle):
                return  # sampled out or tracing off
            entry = (handle.start(), None, True)
        with self._lock:
            self._traces[trace.trace_id] = entry

    def on_trace_end(self, trace: Trace) -> None:
        with self._lock:
            entry = self._traces.pop(trace.trace_id, None)
        if entry is not None and entry[2]:
            handle = entry[0]
            handle.end("error" if handle.status == "error" else "completed")

    def on_span_start(self, span: Span[Any]) -> None:
        with self._lock:
            entry = self._traces.get(span.trace_id)
            if entry is None:
                return
            trace, root_parent, _ = entry
            parent = self._spans.get(span.parent_id) if span.parent_id else None
            data = span.span_data.export()
            kind = data.get("type", "custom")
            handle = SpanHandle(trace, _name(kind, data), _TYPES.get(kind, "custom"),
                                parent_id=parent.id if parent else root_parent, id=adopt.as_uuid(span.span_id),
                                metadata={"agents_span": kind})
            _set_started(handle, span.started_at)
            self._spans[span.span_id] = handle.start()
        if handle.span_type == "llm":
            adopt.enter(handle)

    def on_span_end(self, span: Span[Any]) -> None:
        with self._lock:
            handle = self._spans.pop(span.span_id, None)
        if handle is None:
            return
        if handle.span_type == "llm":
            adopt.leave(handle)
        data = span.span_data.export()
        handle.set_input(data.get("input"))
        handle.set_output(data.get("output") if "output" in data else _rest(data))
        if isinstance(data.get("usage"), dict):
            usage = data["usage"]
            handle.set_usage(model=data.get("model"),
                             prompt_tokens=usage.get("input_tokens", usage.get("prompt_tokens")),
                             completion_tokens=usage.get("output_tokens", usage.get("completion_tokens")))
        if span.error:
            if self._owns(handle.trace):
                handle.trace.status = "error"
            handle.end(error=_error_text(span.error))
        else:
            handle.end()

    def shutdown(self) -> None:
        self.force_flush()

    def force_flush(self) -> None:
        client = self.client or get_client()
        if client is not None:
            client.flush(timeout=5)

    def _owns(self, trace: TraceHandle) -> bool:
        return any(t is trace and own for t, _, own in self._traces.values())


def _error_text(error: Any) -> str:
    """"Error running tool (non-fatal): forecast service down": the SDK's message and its detail."""
    if not isinstance(error, dict):
        return str(error)
    message = str(error.get("message") or "error")
    data = error.get("data")
    detail = data.get("error") if isinstance(data, dict) else data
    return f"{message}: {detail}" if detail else message


def _name(kind: str, data: dict[str, Any]) -> str:
    if kind == "handoff":
        return f"handoff → {data.get('to_agent') or '?'}"
    if kind in ("generation", "response"):
        return str(data.get("model") or kind)
    return str(data.get("name") or kind)


def _rest(data: dict[str, Any]) -> dict[str, Any] | None:
    """Span data without its type and input: what an agent, handoff or guardrail span shows."""
    rest = {k: v for k, v in data.items() if k not in ("type", "input") and v not in (None, [], {})}
    return rest or None


def _set_started(handle: SpanHandle, started_at: str | None) -> None:
    if started_at:
        try:
            handle.started_at = datetime.fromisoformat(started_at)
        except ValueError:
            pass
