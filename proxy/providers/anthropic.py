"""Anthropic Messages: x-api-key auth, cache read/write usage, SSE reassembly."""
from __future__ import annotations

from proxy import sse
from proxy.providers.base import (
    Parsed, Prepared, Usage, as_int, bearer, index_of, json_objects, json_value, obj, stream_error, text,
)

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
    # cache_creation splits the writes by lifetime; 1-hour writes bill at 2x input, 5-minute at 1.25x.
    split = obj(usage.get("cache_creation"))
    write_1h = as_int(split.get("ephemeral_1h_input_tokens"))
    if split and not cache_write:
        cache_write = write_1h + as_int(split.get("ephemeral_5m_input_tokens"))
    return Usage(
        model=model,
        prompt_tokens=as_int(usage.get("input_tokens")) + cache_read + cache_write,
        completion_tokens=as_int(usage.get("output_tokens")),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=min(write_1h, cache_write),
    )


def parse_response(body: bytes, model: str | None) -> Parsed:
    data = json_value(body)
    if not isinstance(data, dict):
        return Parsed(None, Usage(model=model))
    return Parsed(data, usage_from(obj(data.get("usage")), text(data.get("model")) or model))


# Which field of a content_block_delta extends which field of its block.
_DELTA_FIELDS = {
    "text_delta": "text",
    "input_json_delta": "partial_json",
    "thinking_delta": "thinking",
    "signature_delta": "signature",
    "citations_delta": "citation",
}


def reassemble_stream(raw: bytes, model: str | None) -> Parsed:
    message: dict | None = None
    blocks: dict[int, dict] = {}
    json_parts: dict[int, list[str]] = {}
    pieces: dict[tuple[int, str], list[str]] = {}
    usage_fields: dict = {}
    complete = False
    error = ""
    for event in json_objects(sse.iter_data(raw)):
        kind = event.get("type")
        if kind == "message_start":
            message = dict(obj(event.get("message")))
            usage_fields.update(obj(message.get("usage")))
        elif kind == "content_block_start":
            block = dict(obj(event.get("content_block")))
            if block.get("type") == "text":
                block["text"] = text(block.get("text"))
            blocks[index_of(event.get("index"), len(blocks))] = block
        elif kind == "content_block_delta":  # the bulk of a stream: kept lean
            index = index_of(event.get("index"))
            delta = obj(event.get("delta"))
            if index not in blocks:
                blocks[index] = {"type": "text", "text": ""}
            block = blocks[index]
            delta_type = delta.get("type")
            name = _DELTA_FIELDS.get(delta_type) if isinstance(delta_type, str) else None
            if name == "text":
                value = delta.get("text")
                if isinstance(value, str):
                    pieces.setdefault((index, "text"), []).append(value)
            elif name == "partial_json":
                # Tool input arrives as JSON text in pieces; parsed once whole.
                json_parts.setdefault(index, []).append(text(delta.get("partial_json")))
            elif name == "citation":
                if not isinstance(block.get("citations"), list):
                    block["citations"] = []
                block["citations"].append(delta.get("citation"))
            elif name:
                # Pieces are joined once at the end: adding to a string per delta is quadratic.
                pieces.setdefault((index, name), []).append(text(delta.get(name)))
        elif kind == "message_delta":
            if message is not None:
                message.update({k: v for k, v in obj(event.get("delta")).items() if v is not None})
            # Later events carry cumulative counts; take every field they give.
            usage_fields.update({k: v for k, v in obj(event.get("usage")).items() if v is not None})
        elif kind == "message_stop":
            complete = True
        elif kind == "error":
            error = stream_error(event.get("error"))
    for (index, name), parts in pieces.items():
        blocks[index][name] = text(blocks[index].get(name)) + "".join(parts)
    for index, parts in json_parts.items():
        arguments = "".join(parts)
        value = json_value(arguments.encode()) if arguments else {}
        # A stream cut mid-arguments keeps the text it had.
        blocks[index]["input"] = value if value is not None else arguments
    usage = usage_from(usage_fields, text(obj(message).get("model")) or model)
    output = "".join(
        "".join(json_parts.get(i, [])) + text(b.get("text")) + text(b.get("thinking")) + text(b.get("name"))
        for i, b in blocks.items()
    )
    if message is None:
        return Parsed(None, usage, complete, error, output)
    message["content"] = [b for _, b in sorted(blocks.items())]
    message["usage"] = usage_fields
    return Parsed(message, usage, complete, error, output)
