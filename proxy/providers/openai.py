"""OpenAI: Bearer auth, chat/completions/responses/embeddings usage, stream reassembly."""
from __future__ import annotations

import orjson

from proxy import sse
from proxy.providers.base import (
    Parsed, Prepared, Usage, as_int, bearer, index_of, join_v1, json_value, obj, seq, stream_error, text,
)

name = "openai"
AUTH_HEADERS = (b"authorization",)


def client_key(headers: dict[bytes, bytes], query: dict[str, str]) -> str | None:
    return bearer(headers)


def upstream_url(base: str, rest: str, query_string: bytes, key) -> str:
    if key.base_url:  # a gateway or compatible server in OpenAI's place
        return join_v1(key.base_url, rest, query_string)
    url = f"{base.rstrip('/')}/{rest}"
    return f"{url}?{query_string.decode('latin-1')}" if query_string else url


def auth_headers(key) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"Bearer " + key.secret.encode())]


def prepare(rest: str, body: bytes, parsed: dict | None, *, ask_stream_usage: bool = True) -> Prepared:
    if not isinstance(parsed, dict):
        return Prepared(body, None, False)
    model = parsed.get("model") if isinstance(parsed.get("model"), str) else None
    stream = parsed.get("stream") is True
    injected = False
    # Chat and legacy completions only report usage in a stream when asked.
    if ask_stream_usage and stream and rest.endswith(("chat/completions", "/completions")):
        options = parsed.get("stream_options")
        if not (isinstance(options, dict) and options.get("include_usage")):
            parsed = dict(parsed)
            parsed["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
            body = orjson.dumps(parsed)
            injected = True
    return Prepared(body, model, stream, injected)


def usage_from(data: dict, model: str | None = None) -> Usage:
    usage = obj(data.get("usage"))
    if "input_tokens" in usage:  # Responses API
        prompt = as_int(usage.get("input_tokens"))
        completion = as_int(usage.get("output_tokens"))
        cached = as_int(obj(usage.get("input_tokens_details")).get("cached_tokens"))
    else:
        prompt = as_int(usage.get("prompt_tokens"))
        completion = as_int(usage.get("completion_tokens"))
        cached = as_int(obj(usage.get("prompt_tokens_details")).get("cached_tokens"))
        # DeepSeek reports its context-cache hits on their own.
        cached = cached or as_int(usage.get("prompt_cache_hit_tokens"))
    cost = usage.get("cost")  # OpenRouter reports what it charged
    return Usage(
        model=text(data.get("model")) or model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cache_read_tokens=cached,
        reported_cost=str(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0 else None,
    )


def parse_response(body: bytes, model: str | None) -> Parsed:
    data = json_value(body)
    if not isinstance(data, dict):
        return Parsed(None, Usage(model=model))
    return Parsed(data, usage_from(data, model))


def is_usage_only_chunk(data: bytes) -> bool:
    """The chunk include_usage adds at the end: empty choices, usage set."""
    return b'"usage"' in data and b'"choices":[]' in data.replace(b" ", b"")


_RESPONSE_DONE = ("response.completed", "response.failed", "response.incomplete")
# Delta fields other OpenAI-compatible providers stream beside content.
_REASONING_FIELDS = ("reasoning_content", "reasoning")


def reassemble_stream(raw: bytes, model: str | None) -> Parsed:
    """Chat/completions chunks -> one chat.completion; Responses events -> the final response."""
    usage = Usage(model=model)
    usage_fields: dict | None = None
    choices: dict[int, dict] = {}
    base: dict = {}
    items: dict[int, dict] = {}
    responses = False
    complete = False
    error = ""
    for payload in sse.iter_data(raw):
        if payload[:6] == b"[DONE]":
            complete = True
            continue
        chunk = json_value(payload)
        if not isinstance(chunk, dict):
            continue
        if isinstance(chunk.get("error"), dict) and not isinstance(chunk.get("response"), dict):
            # A provider error mid-stream: {"error": {"message", "type", ...}}.
            error = stream_error(chunk["error"])
            if not chunk.get("choices"):
                continue
        kind = chunk.get("type")
        if isinstance(kind, str) and (kind.startswith("response.") or kind == "error"):
            responses = True
            error = _responses_event(chunk, kind, items) or error
            response = chunk.get("response")
            if isinstance(response, dict):
                base = response
                if response.get("usage"):
                    usage = usage_from(response, model)
                if kind in _RESPONSE_DONE:
                    complete = True
                    if response.get("error"):
                        error = stream_error(response["error"])
            continue
        if not base:
            base = {k: chunk.get(k) for k in ("id", "created", "model", "system_fingerprint") if k in chunk}
        if text(chunk.get("model")):
            usage.model = chunk["model"]
        if "x_groq" in chunk and not chunk.get("usage"):  # Groq puts stream usage here
            extra = obj(chunk["x_groq"])
            if obj(extra.get("usage")):
                chunk = {**chunk, "usage": extra["usage"]}
        if chunk.get("usage") and isinstance(chunk["usage"], dict):
            usage = usage_from(chunk, usage.model)
            usage_fields = chunk["usage"]
        for choice in seq(chunk.get("choices")):
            if isinstance(choice, dict):
                _add_choice(choices, choice)
    if responses:
        return _responses_result(base, items, usage, complete, error)
    if not base and not choices:
        return Parsed(None, usage, complete, error)
    body = {**base, "object": "chat.completion"}
    body["choices"] = [_choice_body(c) for c in sorted(choices.values(), key=lambda c: c["index"])]
    if usage_fields:
        # The provider's own usage block, details (cached, reasoning tokens) included.
        body["usage"] = usage_fields
    elif usage.prompt_tokens or usage.completion_tokens:
        body["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        }
    output = []
    for c in choices.values():
        output += c["text"] + c["reasoning"]
        output += [t["function"]["name"] + "".join(t["arguments"]) for t in c["tools"].values()]
    return Parsed(body, usage, complete, error, "".join(output))


def _add_choice(choices: dict[int, dict], choice: dict) -> None:
    idx = index_of(choice.get("index"))
    slot = choices.get(idx)
    if slot is None:
        slot = choices[idx] = {"index": idx, "text": [], "refusal": [], "reasoning": [], "tools": {},
                               "role": "assistant", "finish_reason": None}
    delta = choice.get("delta")
    if isinstance(delta, dict):
        content = delta.get("content")
        if isinstance(content, str):
            slot["text"].append(content)
        if len(delta) > ("content" in delta):  # most deltas carry a content piece and nothing else
            _add_delta_extras(slot, delta)
    elif isinstance(choice.get("text"), str):  # legacy completions
        slot["text"].append(choice["text"])
    if text(choice.get("finish_reason")):
        slot["finish_reason"] = choice["finish_reason"]


def _add_delta_extras(slot: dict, delta: dict) -> None:
    """Role, refusal, reasoning and tool-call pieces of one delta."""
    if text(delta.get("role")):
        slot["role"] = delta["role"]
    if isinstance(delta.get("refusal"), str):
        slot["refusal"].append(delta["refusal"])
    for name in _REASONING_FIELDS:
        if isinstance(delta.get(name), str):
            slot["reasoning"].append(delta[name])
    for call in seq(delta.get("tool_calls")):
        if not isinstance(call, dict):
            continue
        # Name and id come once, the arguments in pieces, all keyed by the call's index.
        tool = slot["tools"].setdefault(
            index_of(call.get("index"), len(slot["tools"])),
            {"id": None, "type": "function", "function": {"name": ""}, "arguments": []},
        )
        if text(call.get("id")):
            tool["id"] = call["id"]
        if text(call.get("type")):
            tool["type"] = call["type"]
        function = obj(call.get("function"))
        if text(function.get("name")):
            tool["function"]["name"] += function["name"]
        if isinstance(function.get("arguments"), str):
            tool["arguments"].append(function["arguments"])


def _choice_body(c: dict) -> dict:
    message: dict = {"role": c["role"], "content": "".join(c["text"])}
    if c["tools"]:
        if not c["text"]:
            message["content"] = None
        message["tool_calls"] = [
            {"id": t["id"], "type": t["type"],
             "function": {"name": t["function"]["name"], "arguments": "".join(t["arguments"])}}
            for _, t in sorted(c["tools"].items())
        ]
    if c["refusal"]:
        message["refusal"] = "".join(c["refusal"])
    if c["reasoning"]:
        message["reasoning_content"] = "".join(c["reasoning"])
    return {"index": c["index"], "message": message, "finish_reason": c["finish_reason"]}


def _responses_event(event: dict, kind: str, items: dict[int, dict]) -> str:
    """Build the output items from their events, for a stream that never completed."""
    if kind == "error":
        return stream_error({"type": event.get("code") or "error", "message": event.get("message")})
    index = index_of(event.get("output_index"))
    if kind in ("response.output_item.added", "response.output_item.done"):
        if isinstance(event.get("item"), dict):
            items[index] = dict(event["item"])
        return ""
    item = items.get(index)
    if item is None:
        return ""
    delta = event.get("delta")
    if not isinstance(delta, str):
        return ""
    if kind in ("response.output_text.delta", "response.refusal.delta"):
        part_type = "output_text" if kind == "response.output_text.delta" else "refusal"
        field_name = "text" if part_type == "output_text" else "refusal"
        content = item["content"] = [p for p in seq(item.get("content")) if isinstance(p, dict)]
        at = min(index_of(event.get("content_index")), 64)
        while len(content) <= at:
            content.append({"type": part_type, field_name: ""})
        content[at][field_name] = text(content[at].get(field_name)) + delta
    elif kind == "response.function_call_arguments.delta":
        item["arguments"] = text(item.get("arguments")) + delta
    elif kind == "response.reasoning_summary_text.delta":
        summary = item["summary"] = [p for p in seq(item.get("summary")) if isinstance(p, dict)]
        at = min(index_of(event.get("summary_index")), 64)
        while len(summary) <= at:
            summary.append({"type": "summary_text", "text": ""})
        summary[at]["text"] = text(summary[at].get("text")) + delta
    return ""


def _responses_result(base: dict, items: dict[int, dict], usage: Usage, complete: bool, error: str) -> Parsed:
    body = dict(base) if base else {"object": "response"}
    if not body.get("output") and items:
        body["output"] = [item for _, item in sorted(items.items())]
    output = []
    for item in seq(body.get("output")):
        if not isinstance(item, dict):
            continue
        for part in seq(item.get("content")):
            if isinstance(part, dict):
                output.append(text(part.get("text")) or text(part.get("refusal")))
        for part in seq(item.get("summary")):
            if isinstance(part, dict):
                output.append(text(part.get("text")))
        if item.get("type") == "function_call":
            output.append(text(item.get("name")) + text(item.get("arguments")))
    return Parsed(body, usage, complete, error, "".join(output))
