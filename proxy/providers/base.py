"""What every provider adapter provides; one module per provider implements it."""
from __future__ import annotations

from dataclasses import dataclass, field

import orjson


@dataclass
class Usage:
    model: str | None = None
    prompt_tokens: int = 0  # gross: includes cache reads and writes
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Prepared:
    """The request as it goes upstream, and what we learned from it."""

    body: bytes
    model: str | None
    stream: bool
    # True when we asked OpenAI for stream usage on the client's behalf, so the
    # usage-only chunk is ours to drop before it reaches a client that did not ask.
    injected_stream_usage: bool = False
    extra: dict = field(default_factory=dict)


def as_int(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None


def bearer(headers: dict[bytes, bytes]) -> str | None:
    value = headers.get(b"authorization")
    if value and value[:7].lower() == b"bearer ":
        return value[7:].strip().decode("latin-1")
    return None


def json_value(raw: bytes):
    """Parsed JSON, or None when the bytes are not JSON (an HTML error page, a cut body)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def json_objects(payloads):
    """The JSON objects among SSE data payloads, skipping [DONE] and anything else."""
    for payload in payloads:
        value = json_value(payload)
        if isinstance(value, dict):
            yield value
