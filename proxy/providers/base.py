"""What every provider adapter provides; one module per provider implements it."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import orjson


@dataclass
class Usage:
    model: str | None = None
    prompt_tokens: int = 0  # gross: includes cache reads and writes
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0  # every cache write, 1-hour ones included
    cache_write_1h_tokens: int = 0  # the part of cache_write_tokens written for one hour
    # What the provider itself says the call cost (OpenRouter's usage.cost), in USD.
    reported_cost: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Parsed:
    """A response body as the log keeps it, and what was learned reading it."""

    body: dict | None
    usage: Usage
    # Streams: the provider's terminal event arrived ([DONE], message_stop, ...), so a
    # client hanging up afterwards cut nothing.
    complete: bool = True
    # An error the provider sent inside a 200 stream, as "type: message".
    error: str = ""
    # Text the model produced (text, tool arguments), to estimate tokens when no usage came.
    output_text: str = ""


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


def join_v1(base: str, rest: str, query_string: bytes) -> str:
    """An OpenAI-style base URL (ending in /v1) and the path a client sent after
    /proxy/<provider>/, whose leading v1/ is the base's own."""
    if rest.startswith("v1/"):
        rest = rest[3:]
    url = f"{base.rstrip('/')}/{rest}"
    return f"{url}?{query_string.decode('latin-1')}" if query_string else url


# Providers' JSON is read defensively: a field of an unexpected type is treated as absent,
# because an exception while reassembling would cost the whole row.
def obj(value) -> dict:
    return value if isinstance(value, dict) else {}


def seq(value) -> list:
    return value if isinstance(value, list) else []


def text(value) -> str:
    return value if isinstance(value, str) else ""


def index_of(value, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


TOKEN_MAX = 2**31 - 1  # two of them still add up within the log's UInt32 total
# Set by as_int() in this thread when a count had to be changed; the row records it.
_clamped = threading.local()


def as_int(value) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        _clamped.seen = True
        return 0
    try:
        # The log keeps UInt32 counts; a nonsense figure must not fail the insert.
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        _clamped.seen = True
        return 0
    if not 0 <= number <= TOKEN_MAX:
        _clamped.seen = True
        return min(max(number, 0), TOKEN_MAX)
    return number


def reset_clamped() -> None:
    _clamped.seen = False


def was_clamped() -> bool:
    return getattr(_clamped, "seen", False)


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


def stream_error(error) -> str:
    """ "type: message" of an error object a provider put in a stream."""
    if not isinstance(error, dict):
        return str(error)[:2000] if error else "error"
    kind = error.get("type") or error.get("code") or error.get("status") or "error"
    message = error.get("message") or ""
    return (f"{kind}: {message}" if message else str(kind))[:4000]


def json_objects(payloads):
    """The JSON objects among SSE data payloads, skipping [DONE] and anything else."""
    for payload in payloads:
        value = json_value(payload)
        if isinstance(value, dict):
            yield value
