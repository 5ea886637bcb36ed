"""Per-call behaviour for provider clients, installed as HTTP client event hooks.

Before each request: the sampling decision (x-spanlens-sample, or the rate of a
kept sampled call in x-spanlens-sample-rate) and, inside a
trace, x-spanlens-trace-id / x-spanlens-span-id. A call made inside an `llm`
span reports as that span; anywhere else it gets its own child `llm` span, so
the waterfall shows every model call. The proxy later fills that span's
request id, tokens and cost from the logged request.
"""
from __future__ import annotations

import json
import sys
from typing import Any

from spanlens.sdk.sampling import SAMPLE_HEADER, SAMPLE_RATE_HEADER, Sampling
from spanlens.sdk.tracing import SpanHandle, current_span, current_trace

TRACE_HEADER = "x-spanlens-trace-id"
SPAN_HEADER = "x-spanlens-span-id"
_SPAN_KEY = "spanlens_span"


class CallTracer:
    def __init__(self, provider: str, sampling: Sampling | None = None):
        self.provider = provider
        self.sampling = sampling

    # --- sync and async hooks share the work below ---------------------------

    def on_request(self, request) -> None:
        try:
            self._annotate(request)
        except Exception:  # tracing must never break the call itself
            pass

    def on_response(self, response) -> None:
        try:
            span = response.request.extensions.get(_SPAN_KEY)
            if span is None:
                return
            if _is_json(response) and response.status_code < 400:
                response.read()
            self._finish(span, response, is_async=False)
        except Exception:
            pass

    async def on_request_async(self, request) -> None:
        self.on_request(request)

    async def on_response_async(self, response) -> None:
        try:
            span = response.request.extensions.get(_SPAN_KEY)
            if span is None:
                return
            if _is_json(response) and response.status_code < 400:
                await response.aread()
            self._finish(span, response, is_async=True)
        except Exception:
            pass

    def install(self, http_client, *, is_async: bool):
        hooks = dict(http_client.event_hooks)
        request_hook = self.on_request_async if is_async else self.on_request
        response_hook = self.on_response_async if is_async else self.on_response
        hooks["request"] = [*hooks.get("request", []), request_hook]
        hooks["response"] = [*hooks.get("response", []), response_hook]
        http_client.event_hooks = hooks
        return http_client

    # --- internals --------------------------------------------------------------

    def _annotate(self, request) -> None:
        decision = self.sampling.decide() if self.sampling else None
        if decision:
            request.headers[SAMPLE_HEADER] = decision
        elif rate := (self.sampling.rate_header(decision) if self.sampling else None):
            request.headers[SAMPLE_RATE_HEADER] = rate
        trace = current_trace()
        if trace is None:
            return
        parent = current_span()
        if parent is not None and parent.span_type == "llm" and not parent.llm_call_attached:
            parent.llm_call_attached = True
            span_id = parent.id
        else:
            body = _request_json(request)
            model = body.get("model") if isinstance(body, dict) else None
            endpoint = request.url.path
            span = SpanHandle(
                trace,
                str(model or endpoint.rsplit("/", 1)[-1] or self.provider),
                "llm",
                parent_id=parent.id if parent else None,
                input=body,
                metadata={"provider": self.provider, "endpoint": endpoint, **({"sample": decision} if decision else {})},
            )
            request.extensions[_SPAN_KEY] = span.start()
            span_id = span.id
        request.headers[TRACE_HEADER] = trace.id
        request.headers[SPAN_HEADER] = span_id

    def _finish(self, span: SpanHandle, response, *, is_async: bool) -> None:
        if response.status_code >= 400:
            span.end(error=f"HTTP {response.status_code}")
            return
        if _is_json(response):
            span.set_output(_response_output(response.json()))
            span.end()
            return
        # A stream: the call lasts until the app has read (or dropped) the last chunk.
        span.set_metadata(streamed=True)
        _end_span_when_stream_closes(response, span, is_async)


def _end_span_when_stream_closes(response, span: SpanHandle, is_async: bool) -> None:
    # The provider SDKs ship their own httpx flavour; wrap with the stream base class of
    # the response's own library so its type checks still pass.
    library = sys.modules[type(response).__module__.split(".")[0]]
    inner = response.stream
    if is_async:
        class EndOnClose(library.AsyncByteStream):
            async def __aiter__(self):
                async for chunk in inner:
                    yield chunk

            async def aclose(self) -> None:
                try:
                    await inner.aclose()
                finally:
                    span.end()
    else:
        class EndOnClose(library.SyncByteStream):
            def __iter__(self):
                yield from inner

            def close(self) -> None:
                try:
                    inner.close()
                finally:
                    span.end()

    response.stream = EndOnClose()


def _is_json(response) -> bool:
    return "application/json" in response.headers.get("content-type", "")


def _request_json(request) -> Any:
    try:
        return json.loads(request.content or b"null")
    except Exception:  # a streamed or binary upload: nothing to show
        return None


def _response_output(body: Any) -> Any:
    """The part of a provider response worth showing as the span's output."""
    if not isinstance(body, dict):
        return body
    if isinstance(body.get("choices"), list) and body["choices"]:  # OpenAI chat / completions
        choice = body["choices"][0]
        return choice.get("message", choice.get("text", choice)) if isinstance(choice, dict) else choice
    if "content" in body:  # Anthropic messages
        return body["content"]
    if "candidates" in body:  # Gemini
        return body["candidates"]
    return body
