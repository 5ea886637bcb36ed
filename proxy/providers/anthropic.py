"""Anthropic Messages: x-api-key auth, cache read/write usage, SSE reassembly."""
from __future__ import annotations

from proxy import sse
from proxy.providers.base import Prepared, Usage, as_int, bearer, json_objects, json_value

name = "anthropic"
AUTH_HEADERS = (b"x-api-key", b"authorization")


def client_key(headers: dict[bytes, bytes], query: dict[str, str]) -> str | None:
    value = headers.get(b"x-api-key")
    return value.decode("latin-1").strip() if value else bearer(headers)


def upstream_url(base: str, rest: str, query_string: bytes, key) -> str:
    url = f"{base.rstrip('/')}/{rest}"
    return f"{url}?{query_string.decode('latin-1')}" if query_string else url


def auth_headers(key) -> list[tuple[bytes, bytes]]:
    return [(b"x-api-key", key.secret.encode())]


def prepare(rest: str, body: bytes, parsed: dict | None) -> Prepared:
    if not isinstance(parsed, dict):
        return Prepared(body, None, False)
    model = parsed.get("model") if isinstance(parsed.get("model"), str) else None
    return Prepared(body, model, parsed.get("stream") is True)


def usage_from(usage: dict, model: str | None) -> Usage:
    # Anthropic's input_tokens excludes cached tokens; our prompt_tokens is gross.
    cache_read = as_int(usage.get("cache_read_input_tokens"))
    cache_write = as_int(usage.get("cache_creation_input_tokens"))
    return Usage(
        model=model,
        prompt_tokens=as_int(usage.get("input_tokens")) + cache_read + cache_write,
        completion_tokens=as_int(usage.get("output_tokens")),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def parse_response(body: bytes, model: str | None) -> tuple[dict | None, Usage]:
    data = json_value(body)
    if not isinstance(data, dict):
        return None, Usage(model=model)
    return data, usage_from(data.get("usage") or {}, data.get("model") or model)


def reassemble_stream(raw: bytes, model: str | None) -> tuple[dict | None, Usage]:
    message: dict | None = None
    blocks: dict[int, dict] = {}
    usage_fields: dict = {}
    for event in json_objects(sse.iter_data(raw)):
        kind = event.get("type")
        if kind == "message_start":
            message = dict(event.get("message") or {})
            usage_fields.update(message.get("usage") or {})
        elif kind == "content_block_start":
            block = dict(event.get("content_block") or {})
            if block.get("type") == "text":
                block["text"] = block.get("text", "")
            blocks[event.get("index", len(blocks))] = block
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            block = blocks.setdefault(event.get("index", 0), {"type": "text", "text": ""})
            if delta.get("type") == "text_delta":
                block["text"] = block.get("text", "") + delta.get("text", "")
        elif kind == "message_delta":
            if message is not None:
                message.update({k: v for k, v in (event.get("delta") or {}).items() if v is not None})
            # Later events carry cumulative counts; take every field they give.
            usage_fields.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
    usage = usage_from(usage_fields, (message or {}).get("model") or model)
    if message is None:
        return None, usage
    # Only the assistant-visible text is kept (see requests.txt limitations).
    message["content"] = [b for _, b in sorted(blocks.items()) if b.get("type") == "text"]
    message["usage"] = usage_fields
    return message, usage
