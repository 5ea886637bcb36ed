"""Traces and spans in the app: `with client.trace(...)`, `@observe(...)`, `with observe(...)`.

The current trace and span live in contextvars, so nesting follows the code:
each asyncio task starts with a copy of its creator's context, which gives
every branch of an asyncio.gather fan-out the right parent, and a span opened
in one branch never becomes the parent of another. (Threads do not inherit
context: use contextvars.copy_context().run in a thread pool to keep it.)
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import random
import uuid
from contextvars import ContextVar, Token
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from spanlens.sdk.client import Spanlens

SPAN_TYPES = ("llm", "tool", "retrieval", "embedding", "custom")
MAX_TEXT = 10_000
MAX_ITEMS = 100
MAX_DEPTH = 6
MAX_FIELD_BYTES = 64 * 1024  # per input / output / metadata, so one span never outgrows a batch

_trace: ContextVar["TraceHandle | NoopTrace | None"] = ContextVar("spanlens_trace", default=None)
_span: ContextVar["SpanHandle | None"] = ContextVar("spanlens_span", default=None)


def current_trace() -> "TraceHandle | None":
    trace = _trace.get()
    return trace if isinstance(trace, TraceHandle) else None


def current_span() -> "SpanHandle | None":
    return _span.get() if current_trace() is not None else None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def to_jsonable(value: Any, depth: int = 0) -> Any:
    """Inputs and outputs as JSON the server accepts: bounded, never raising."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if depth >= MAX_DEPTH:
        return to_jsonable(repr(value), depth)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v, depth + 1) for v in list(value)[:MAX_ITEMS]]
    if isinstance(value, (datetime, uuid.UUID)):
        return str(value)
    if hasattr(value, "model_dump"):  # pydantic objects, e.g. provider SDK responses
        try:
            return to_jsonable(value.model_dump(), depth + 1)
        except Exception:
            pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), depth + 1)
    return to_jsonable(repr(value), depth)


def bounded(value: Any) -> Any:
    """to_jsonable, and past MAX_FIELD_BYTES a truncated preview instead of the value."""
    value = to_jsonable(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text.encode()) <= MAX_FIELD_BYTES:
        return value
    return {"truncated": True, "bytes": len(text.encode()), "preview": text[:MAX_TEXT]}


class _Scoped:
    """Shared enter/exit plumbing: set the contextvars on enter, restore them on exit."""

    _tokens: list[tuple[ContextVar, Token]]

    def _activate(self, trace, span) -> None:
        self._tokens = [(_trace, _trace.set(trace)), (_span, _span.set(span))]

    def _deactivate(self) -> None:
        for var, token in reversed(getattr(self, "_tokens", [])):
            try:
                var.reset(token)
            except ValueError:  # exited in another context (e.g. a generator); the copy dies with it
                pass
        self._tokens = []


class TraceHandle(_Scoped):
    """One trace. Use as a (sync or async) context manager; status follows the outcome."""

    sampled = True

    def __init__(
        self,
        client: "Spanlens",
        name: str,
        *,
        id: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        metadata: dict | None = None,
    ):
        self.client = client
        self.id = str(id or uuid.uuid4())
        self.name = name
        self.user_id = user_id
        self.session_id = session_id
        self.metadata = dict(metadata or {})
        self.started_at = _now()
        self.ended_at: datetime | None = None
        self.status = "running"
        self._sent_start = False

    def _payload(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "user_id": self.user_id,
            "session_id": self.session_id,
            "metadata": to_jsonable(self.metadata),
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
        }

    def start(self) -> "TraceHandle":
        if not self._sent_start:
            self._sent_start = True
            self.client._emit("trace", self._payload())
        return self

    def end(self, status: str = "completed") -> None:
        if self.ended_at is not None:
            return
        self.ended_at = _now()
        self.status = status
        self.client._emit("trace", self._payload())

    def update(self, *, name=None, user_id=None, session_id=None, metadata=None) -> None:
        self.name = name or self.name
        self.user_id = user_id or self.user_id
        self.session_id = session_id or self.session_id
        self.metadata.update(metadata or {})

    def span(self, name: str, span_type: str = "custom", **kwargs) -> "SpanHandle":
        """A span of this trace; a context manager (parent: the current span)."""
        parent = _span.get() if _trace.get() is self else None
        return SpanHandle(self, name, span_type, parent_id=parent.id if parent else None, **kwargs)

    def __enter__(self) -> "TraceHandle":
        self.start()
        self._activate(self, None)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._deactivate()
        self.end("error" if exc_type else "completed")

    async def __aenter__(self) -> "TraceHandle":
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self.__exit__(exc_type, exc, tb)


class NoopTrace(_Scoped):
    """A sampled-out trace: spans inside it and LLM calls made in it are not traced."""

    sampled = False
    id = None

    def __init__(self, name: str = ""):
        self.name = name

    def start(self):
        return self

    def end(self, status: str = "completed") -> None:
        pass

    def update(self, **kwargs) -> None:
        pass

    def span(self, name: str, span_type: str = "custom", **kwargs) -> "NoopSpan":
        return NoopSpan()

    def __enter__(self):
        self._activate(self, None)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._deactivate()

    async def __aenter__(self):
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self.__exit__(exc_type, exc, tb)


class SpanHandle(_Scoped):
    """One span. Its parent is fixed when it is created: the span current at that point."""

    def __init__(
        self,
        trace: TraceHandle,
        name: str,
        span_type: str = "custom",
        *,
        parent_id: str | None = None,
        input: Any = None,
        metadata: dict | None = None,
        id: str | None = None,
    ):
        if span_type not in SPAN_TYPES:
            raise ValueError(f"span_type must be one of {', '.join(SPAN_TYPES)}")
        self.trace = trace
        self.id = str(id or uuid.uuid4())
        self.parent_id = parent_id
        self.name = name
        self.span_type = span_type
        self.input = input
        self.output: Any = None
        self.metadata = dict(metadata or {})
        self.started_at = _now()
        self.ended_at: datetime | None = None
        self.status = "running"
        self.error: str | None = None
        self.llm_call_attached = False  # the first LLM call in an llm span reports as this span
        self.usage: dict[str, Any] = {}
        self._sent_start = False

    def set_input(self, value: Any) -> None:
        self.input = value

    def set_output(self, value: Any) -> None:
        self.output = value

    def set_metadata(self, **values: Any) -> None:
        self.metadata.update(values)

    def set_usage(self, *, model=None, prompt_tokens=None, completion_tokens=None, total_tokens=None) -> None:
        """Model and token counts known in the app (calls through the proxy get them from the log)."""
        values = {"model": model, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": total_tokens}
        self.usage.update({k: v for k, v in values.items() if v is not None})

    def end(self, *, error: BaseException | str | None = None, status: str | None = None) -> None:
        if self.ended_at is not None:
            return
        self.ended_at = _now()
        if error is not None:
            self.error = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self.status = status or ("error" if error is not None else "completed")
        self.trace.client._emit("span", self._payload())

    def _payload(self) -> dict:
        return {
            "id": self.id,
            "trace_id": self.trace.id,
            "parent_span_id": self.parent_id,
            "name": self.name,
            "span_type": self.span_type,
            "status": self.status,
            "input": bounded(self.input),
            "output": bounded(self.output),
            "metadata": bounded(self.metadata),
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "error": self.error,
            **self.usage,
        }

    def start(self) -> "SpanHandle":
        """Report the span as running, so long steps show up before they end.

        A span that ends before the next send merges with this record (the
        transport coalesces by id), so short spans still cost one item.
        """
        if not self._sent_start and self.ended_at is None:
            self._sent_start = True
            self.trace.client._emit("span", self._payload())
        return self

    def __enter__(self) -> "SpanHandle":
        self.start()
        self._activate(self.trace, self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._deactivate()
        self.end(error=exc if exc_type else None)

    async def __aenter__(self) -> "SpanHandle":
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self.__exit__(exc_type, exc, tb)


class NoopSpan:
    """Stands in for a span when nothing is traced, so app code needs no branches."""

    id = None
    trace = None
    span_type = "custom"

    def start(self):
        return self

    def set_input(self, value: Any) -> None:
        pass

    def set_output(self, value: Any) -> None:
        pass

    def set_metadata(self, **values: Any) -> None:
        pass

    def set_usage(self, **values: Any) -> None:
        pass

    def end(self, **kwargs) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        pass


class _ImplicitTraceSpan:
    """A span opened with no trace around it: it starts a trace of the same name and ends it."""

    def __init__(self, trace: TraceHandle, span_factory: Callable[[TraceHandle], SpanHandle]):
        self.trace = trace
        self._span_factory = span_factory
        self.span: SpanHandle | None = None

    def __enter__(self) -> SpanHandle:
        self.trace.__enter__()
        self.span = self._span_factory(self.trace)
        return self.span.__enter__()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.span.__exit__(exc_type, exc, tb)
        self.trace.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> SpanHandle:
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self.__exit__(exc_type, exc, tb)


def start_span(name: str, span_type: str = "custom", *, input: Any = None, metadata: dict | None = None):
    """A context manager for a new span under the current one (see observe for the rules)."""
    trace = _trace.get()
    if isinstance(trace, NoopTrace):
        return NoopSpan()
    if isinstance(trace, TraceHandle):
        parent = _span.get()
        return SpanHandle(trace, name, span_type, parent_id=parent.id if parent else None,
                          input=input, metadata=metadata)
    from spanlens.sdk.client import get_client

    client = get_client()
    if client is None:
        return NoopSpan()
    implicit = client.trace(name)
    if not isinstance(implicit, TraceHandle):
        return implicit  # sampled out: a NoopTrace works as a no-op context manager too
    return _ImplicitTraceSpan(
        implicit, lambda t: SpanHandle(t, name, span_type, input=input, metadata=metadata)
    )


def observe(
    name: str | Callable | None = None,
    span_type: str = "custom",
    *,
    capture_input: bool = True,
    capture_output: bool = True,
    metadata: dict | None = None,
):
    """A span around a function (`@observe(...)`, or bare `@observe`) or a block (`with observe(...) as span:`).

    Works for sync and async functions. Inside a trace the span nests under the
    current span; with no trace, a trace of the same name is started (if a
    Spanlens client exists); in a sampled-out trace nothing is recorded.
    """
    if callable(name):
        return Observation(None, span_type)._wrap(name)
    return Observation(
        name, span_type, capture_input=capture_input, capture_output=capture_output, metadata=metadata
    )


class Observation:
    """What observe(...) returns: a decorator and a (sync or async) context manager."""

    def __init__(
        self,
        name: str | None,
        span_type: str = "custom",
        *,
        capture_input: bool = True,
        capture_output: bool = True,
        metadata: dict | None = None,
    ):
        if span_type not in SPAN_TYPES:
            raise ValueError(f"span_type must be one of {', '.join(SPAN_TYPES)}")
        self.name = name
        self.span_type = span_type
        self.capture_input = capture_input
        self.capture_output = capture_output
        self.metadata = metadata
        self._open: list = []

    # --- as a context manager -------------------------------------------------

    def __enter__(self):
        manager = start_span(self.name or "span", self.span_type, metadata=self.metadata)
        self._open.append(manager)
        return manager.__enter__()

    def __exit__(self, exc_type, exc, tb):
        return self._open.pop().__exit__(exc_type, exc, tb)

    async def __aenter__(self):
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb):
        return self.__exit__(exc_type, exc, tb)

    # --- as a decorator ---------------------------------------------------------

    def __call__(self, fn: Callable) -> Callable:
        return self._wrap(fn)

    def _wrap(self, fn: Callable) -> Callable:
        name = self.name or getattr(fn, "__qualname__", getattr(fn, "__name__", "span"))
        signature = _signature(fn)

        def open_span(args, kwargs):
            span_input = _bound_arguments(signature, args, kwargs) if self.capture_input else None
            return start_span(name, self.span_type, input=span_input, metadata=self.metadata)

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args, **kwargs):
                with open_span(args, kwargs) as span:
                    result = await fn(*args, **kwargs)
                    if self.capture_output:
                        span.set_output(result)
                    return result

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with open_span(args, kwargs) as span:
                result = fn(*args, **kwargs)
                if self.capture_output:
                    span.set_output(result)
                return result

        return wrapper


def _signature(fn):
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _bound_arguments(signature, args, kwargs) -> Any:
    if signature is None:
        return {"args": list(args), "kwargs": kwargs}
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}
    return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}


def sample(rate: float | None, rng: Callable[[], float] = random.random) -> bool:
    """Whether a trace with this sample rate is kept (None or 1 keeps every trace)."""
    if rate is None or rate >= 1:
        return True
    if rate < 0:
        raise ValueError("sample_rate must be between 0 and 1")
    return rng() < rate
