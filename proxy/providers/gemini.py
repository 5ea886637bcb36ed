"""Gemini generateContent / streamGenerateContent: x-goog-api-key or ?key=, usageMetadata."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from proxy import sse
from proxy.providers.base import Prepared, Usage, as_int, json_objects, json_value

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
    meta = data.get("usageMetadata") or {}
    return Usage(
        model=data.get("modelVersion") or model,
        prompt_tokens=as_int(meta.get("promptTokenCount")),
        completion_tokens=as_int(meta.get("candidatesTokenCount")) + as_int(meta.get("thoughtsTokenCount")),
        cache_read_tokens=as_int(meta.get("cachedContentTokenCount")),
    )


def parse_response(body: bytes, model: str | None) -> tuple[dict | None, Usage]:
    data = json_value(body)
    if isinstance(data, list):  # streamGenerateContent without alt=sse returns a JSON array
        return _merge(data, model)
    if not isinstance(data, dict):
        return None, Usage(model=model)
    return data, usage_from(data, model)


def reassemble_stream(raw: bytes, model: str | None) -> tuple[dict | None, Usage]:
    if raw.lstrip()[:1] == b"[":  # streamGenerateContent without alt=sse: one JSON array
        return parse_response(raw, model)
    return _merge(list(json_objects(sse.iter_data(raw))), model)


def _merge(chunks: list, model: str | None) -> tuple[dict | None, Usage]:
    if not chunks:
        return None, Usage(model=model)
    texts: list[str] = []
    finish = None
    usage = Usage(model=model)
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        for candidate in (chunk.get("candidates") or [])[:1]:
            for part in (candidate.get("content") or {}).get("parts") or []:
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
            finish = candidate.get("finishReason") or finish
        if chunk.get("usageMetadata"):
            usage = usage_from(chunk, usage.model)
        elif chunk.get("modelVersion"):
            usage.model = chunk["modelVersion"]
    last = chunks[-1] if isinstance(chunks[-1], dict) else {}
    body = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "".join(texts)}]}, "finishReason": finish, "index": 0}
        ],
        "usageMetadata": last.get("usageMetadata") or {},
        "modelVersion": usage.model,
    }
    return body, usage
