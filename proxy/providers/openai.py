"""OpenAI: Bearer auth, chat/completions/responses/embeddings usage, stream reassembly."""
from __future__ import annotations

import orjson

from proxy import sse
from proxy.providers.base import Prepared, Usage, as_int, bearer, json_objects, json_value

name = "openai"
AUTH_HEADERS = (b"authorization",)


def client_key(headers: dict[bytes, bytes], query: dict[str, str]) -> str | None:
    return bearer(headers)


def upstream_url(base: str, rest: str, query_string: bytes, key) -> str:
    url = f"{base.rstrip('/')}/{rest}"
    return f"{url}?{query_string.decode('latin-1')}" if query_string else url


def auth_headers(key) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"Bearer " + key.secret.encode())]


def prepare(rest: str, body: bytes, parsed: dict | None) -> Prepared:
    if not isinstance(parsed, dict):
        return Prepared(body, None, False)
    model = parsed.get("model") if isinstance(parsed.get("model"), str) else None
    stream = parsed.get("stream") is True
    injected = False
    # Chat and legacy completions only report usage in a stream when asked.
    if stream and rest.endswith(("chat/completions", "/completions")):
        options = parsed.get("stream_options")
        if not (isinstance(options, dict) and options.get("include_usage")):
            parsed = dict(parsed)
            parsed["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
            body = orjson.dumps(parsed)
            injected = True
    return Prepared(body, model, stream, injected)


def usage_from(data: dict, model: str | None = None) -> Usage:
    usage = data.get("usage") or {}
    if "input_tokens" in usage:  # Responses API
        prompt = as_int(usage.get("input_tokens"))
        completion = as_int(usage.get("output_tokens"))
        cached = as_int((usage.get("input_tokens_details") or {}).get("cached_tokens"))
    else:
        prompt = as_int(usage.get("prompt_tokens"))
        completion = as_int(usage.get("completion_tokens"))
        cached = as_int((usage.get("prompt_tokens_details") or {}).get("cached_tokens"))
    return Usage(
        model=data.get("model") or model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cache_read_tokens=cached,
    )


def parse_response(body: bytes, model: str | None) -> tuple[dict | None, Usage]:
    data = json_value(body)
    if not isinstance(data, dict):
        return None, Usage(model=model)
    return data, usage_from(data, model)


def is_usage_only_chunk(data: bytes) -> bool:
    """The chunk include_usage adds at the end: empty choices, usage set."""
    return b'"usage"' in data and b'"choices":[]' in data.replace(b" ", b"")


def reassemble_stream(raw: bytes, model: str | None) -> tuple[dict | None, Usage]:
    """Chat/completions chunks -> one chat.completion; Responses events -> the final response."""
    usage = Usage(model=model)
    choices: dict[int, dict] = {}
    base: dict = {}
    for chunk in json_objects(sse.iter_data(raw)):
        kind = chunk.get("type")
        if isinstance(kind, str) and kind.startswith("response."):
            response = chunk.get("response")
            if isinstance(response, dict):
                base = response
                if response.get("usage"):
                    usage = usage_from(response, model)
            continue
        if not base:
            base = {k: chunk.get(k) for k in ("id", "created", "model", "system_fingerprint") if k in chunk}
        if chunk.get("model"):
            usage.model = chunk["model"]
        if chunk.get("usage"):
            usage = usage_from(chunk, usage.model)
        for choice in chunk.get("choices") or []:
            idx = choice.get("index", 0)
            slot = choices.setdefault(idx, {"index": idx, "text": [], "role": "assistant", "finish_reason": None})
            delta = choice.get("delta")
            if isinstance(delta, dict):
                if delta.get("role"):
                    slot["role"] = delta["role"]
                if isinstance(delta.get("content"), str):
                    slot["text"].append(delta["content"])
            elif isinstance(choice.get("text"), str):  # legacy completions
                slot["text"].append(choice["text"])
            if choice.get("finish_reason"):
                slot["finish_reason"] = choice["finish_reason"]
    if base.get("object") == "response" or (base and "output" in base):
        return base, usage
    if not base and not choices:
        return None, usage
    body = {**base, "object": "chat.completion"}
    body["choices"] = [
        {
            "index": c["index"],
            "message": {"role": c["role"], "content": "".join(c["text"])},
            "finish_reason": c["finish_reason"],
        }
        for c in sorted(choices.values(), key=lambda c: c["index"])
    ]
    if usage.prompt_tokens or usage.completion_tokens:
        body["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        }
    return body, usage
