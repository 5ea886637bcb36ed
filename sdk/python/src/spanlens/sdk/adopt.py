"""What the framework integrations share: other tracers' ids as Spanlens ids, and a span
made current while the framework runs one step, so provider calls inside it link to it."""
from __future__ import annotations

import uuid

from spanlens.sdk.tracing import SpanHandle

_NAMESPACE = uuid.UUID("5b1f0e0c-9a55-4d0e-8f43-5c1a7a0b2d61")


def as_uuid(value: str | None) -> str | None:
    """A framework's id as the UUID the ingest API wants: itself when it is one (with or
    without a prefix such as trace_), else a stable UUID derived from it."""
    if not value:
        return None
    text = str(value)
    for candidate in (text, text.rpartition("_")[2]):
        try:
            return str(uuid.UUID(candidate))
        except ValueError:
            continue
    return str(uuid.uuid5(_NAMESPACE, text))


def enter(span: SpanHandle) -> None:
    """Make (trace, span) current for the code the framework runs next in this context.

    Only for leaf steps (one model call): they end before anything else starts, so
    restoring the previous values on exit cannot cross another step's.
    """
    span._activate(span.trace, span)


def leave(span: SpanHandle) -> None:
    span._deactivate()


