"""Gemini generateContent / streamGenerateContent: x-goog-api-key or ?key=, usageMetadata."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

import orjson

from proxy import sse
from proxy.providers.base import Parsed, Prepared, Usage, as_int, json_objects, json_value, obj, seq, stream_error, text

name = "gemini"
AUTH_HEADERS = (b"x-goog-api-key", b"authorization")
_MODEL_IN_PATH = re.compile(r"models/([^/:]+)")


def client_key(headers: dict[bytes, bytes], query: dict[str, str]) -> str | None:
    value = headers.get(b"x-goog-api-key")
    if value:
        return value.decode("latin-1").strip()
    return query.get("key")


def upstream_url(base: str, rest: str, query_string: bytes, key) -> str:
    url = f"{base.rstrip('/')}/{rest}"
    if not query_string:
        return url
    # The Spanlens key may have come as ?key=; it never goes upstream.
    pairs = [(k, v) for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True) if k != "key"]
    return f"{url}?{urlencode(pairs)}" if pairs else url


def auth_headers(key) -> list[tuple[bytes, bytes]]:
    return [(b"x-goog-api-key", key.secret.encode())]


def prepare(rest: str, body: bytes, parsed: dict | None) -> Prepared:
    match = _MODEL_IN_PATH.search(rest)
    model = match.group(1) if match else None
    return Prepared(body, model, ":streamGenerateContent" in rest)


def usage_from(data: dict, model: str | None) -> Usage:
    meta = obj(data.get("usageMetadata"))
    return Usage(
        model=text(data.get("modelVersion")) or model,
        prompt_tokens=as_int(meta.get("promptTokenCount")),
        completion_tokens=as_int(meta.get("candidatesTokenCount")) + as_int(meta.get("thoughtsTokenCount")),
        cache_read_tokens=as_int(meta.get("cachedContentTokenCount")),
    )


def parse_response(body: bytes, model: str | None) -> Parsed:
    data = json_value(body)
    if isinstance(data, list):  # streamGenerateContent without alt=sse returns a JSON array
        return _merge(data, model)
    if not isinstance(data, dict):
        return Parsed(None, Usage(model=model))
    return Parsed(data, usage_from(data, model))


def reassemble_stream(raw: bytes, model: str | None) -> Parsed:
    if raw.lstrip()[:1] == b"[":  # streamGenerateContent without alt=sse: one JSON array
        data = json_value(raw)
        if isinstance(data, list):
            return _merge(data, model)
        # An array cut short: take the elements that arrived whole.
        return _merge(list(json_objects(_array_elements(raw))), model)
    return _merge(list(json_objects(sse.iter_data(raw))), model)


def _array_elements(raw: bytes):
    body = raw.strip().lstrip(b"[").rstrip(b"]")
    for piece in body.split(b"\r\n,"):
        yield piece.strip().lstrip(b",")


def _merge(chunks: list, model: str | None) -> Parsed:
    if not chunks:
        return Parsed(None, Usage(model=model), complete=False)
    parts: list[dict] = []
    finish = None
    error = ""
    usage = Usage(model=model)
    last_usage: dict = {}
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        if isinstance(chunk.get("error"), dict):
            error = stream_error(chunk["error"])
        for candidate in seq(chunk.get("candidates"))[:1]:
            candidate = obj(candidate)
            for part in seq(obj(candidate.get("content")).get("parts")):
                if isinstance(part, dict):
                    _add_part(parts, part)
            finish = text(candidate.get("finishReason")) or finish
        if obj(chunk.get("usageMetadata")):
            usage = usage_from(chunk, usage.model)
            last_usage = chunk["usageMetadata"]
        elif text(chunk.get("modelVersion")):
            usage.model = chunk["modelVersion"]
    body = {
        "candidates": [
            {"content": {"role": "model", "parts": parts or [{"text": ""}]}, "finishReason": finish, "index": 0}
        ],
        "usageMetadata": last_usage,
        "modelVersion": usage.model,
    }
    output = "".join(
        text(p.get("text")) or (text(p["functionCall"].get("name")) + _json_text(p["functionCall"].get("args"))
                                if isinstance(p.get("functionCall"), dict) else "")
        for p in parts
    )
    # The chunk that carries finishReason is Gemini's last.
    return Parsed(body, usage, finish is not None, error, output)


def _json_text(value) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return ""


def _add_part(parts: list[dict], part: dict) -> None:
    """Text pieces join the text part before them (thought summaries apart); every
    other part (functionCall, inlineData, ...) arrives whole and is kept as is."""
    if isinstance(part.get("text"), str) and set(part) <= {"text", "thought"}:
        last = parts[-1] if parts else None
        if last is not None and "text" in last and bool(last.get("thought")) == bool(part.get("thought")) \
                and set(last) <= {"text", "thought"}:
            last["text"] += part["text"]
            return
    parts.append(dict(part))
