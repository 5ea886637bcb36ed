"""Per-call Spanlens headers: `extra_headers=with_user("u1").headers`.

Helpers combine with `|` or by chaining: `with_user("u1").with_session("s1")`.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping

LOG_BODY_MODES = ("full", "meta", "none")


class SpanlensHeaders(Mapping):
    """An immutable set of x-spanlens-* headers; also a Mapping, so it can be passed as headers directly."""

    def __init__(self, headers: Mapping[str, str] | None = None):
        self.headers: dict[str, str] = dict(headers or {})

    def __getitem__(self, key: str) -> str:
        return self.headers[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.headers)

    def __len__(self) -> int:
        return len(self.headers)

    def __or__(self, other: Mapping[str, str]) -> "SpanlensHeaders":
        return SpanlensHeaders({**self.headers, **dict(other)})

    __add__ = __or__

    def __repr__(self) -> str:
        return f"SpanlensHeaders({self.headers!r})"

    def with_user(self, user_id: str) -> "SpanlensHeaders":
        return self | with_user(user_id)

    def with_session(self, session_id: str) -> "SpanlensHeaders":
        return self | with_session(session_id)

    def with_prompt_version(self, ref: str) -> "SpanlensHeaders":
        return self | with_prompt_version(ref)

    def with_log_body(self, mode: str) -> "SpanlensHeaders":
        return self | with_log_body(mode)


def _text(value, what: str) -> str:
    value = str(value).strip() if value is not None else ""
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value


def with_user(user_id: str) -> SpanlensHeaders:
    """Attribute the call to one of your end users (grouped on /users)."""
    return SpanlensHeaders({"x-spanlens-user": _text(user_id, "user id")})


def with_session(session_id: str) -> SpanlensHeaders:
    """Group calls of one conversation."""
    return SpanlensHeaders({"x-spanlens-session": _text(session_id, "session id")})


def with_prompt_version(ref: str) -> SpanlensHeaders:
    """Link the call to a prompt version: "name@3", "name@production" (any label), "name@latest",
    or the version's id (a UUID). spanlens.prompts.get() gives it as prompt.header."""
    ref = _text(ref, "prompt version")
    name, at, version = ref.partition("@")
    if not (name.strip() and at and version.strip()) and not _is_uuid(ref):
        raise ValueError('prompt version must look like "name@version" (or be a version id)')
    return SpanlensHeaders({"x-spanlens-prompt-version": ref})


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def with_log_body(mode: str) -> SpanlensHeaders:
    """How much of the bodies Spanlens keeps: full (default), meta (no bodies) or none (no bodies, no user ids)."""
    if mode not in LOG_BODY_MODES:
        raise ValueError(f"log body mode must be one of {', '.join(LOG_BODY_MODES)}")
    return SpanlensHeaders({"x-spanlens-log-body": mode})
