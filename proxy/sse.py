"""Server-sent events: split a byte stream into events, incrementally."""
from __future__ import annotations

from typing import Iterable


def split_events(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete events in buffer, and the unfinished rest to keep for the next chunk."""
    if b"\r\n" in buffer:
        buffer = buffer.replace(b"\r\n", b"\n")
    parts = buffer.split(b"\n\n")
    return parts[:-1], parts[-1]


def event_data(event: bytes) -> bytes | None:
    """The data: payload of one event (multi-line data joined), or None."""
    if event[:5] == b"data:" and b"\n" not in event:  # nearly every event: one data line
        return event[5:].lstrip(b" ")
    lines = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    if not lines:
        return None
    return b"\n".join(lines)


def event_name(event: bytes) -> str | None:
    for line in event.split(b"\n"):
        if line.startswith(b"event:"):
            return line[6:].strip().decode(errors="replace")
    return None


def iter_data(raw: bytes) -> Iterable[bytes]:
    """Every data payload of a whole (possibly unterminated) SSE body."""
    events, rest = split_events(raw)
    if rest.strip():
        events.append(rest)
    for event in events:
        data = event_data(event)
        if data is not None:
            yield data
