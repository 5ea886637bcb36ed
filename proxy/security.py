"""Security flags on stored bodies: PII and prompt-injection findings (a JSON array)."""
from __future__ import annotations

import re

import orjson

_CHECKS = (
    ("pii.email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")),
    ("pii.credit_card", re.compile(r"\b(?:\d[ -]?){13,16}\b")),
    ("pii.us_ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    ("pii.phone", re.compile(r"\+\d{1,3}[ .-]?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}\b")),
    ("injection.ignore_instructions", re.compile(
        r"ignore (all |any )?(the )?(previous|prior|above) (instructions|prompts?)", re.I)),
    ("injection.reveal_system_prompt", re.compile(r"(reveal|print|show) (me )?(your|the) system prompt", re.I)),
)


def _could_match(text: str) -> dict[str, bool]:
    """Cheap necessary conditions per check, for ASCII text.

    Every stored body is scanned in the log writer, which shares the GIL with
    the event loop: running six regexes over each body cost ~20% of the proxy's
    throughput. A substring or digit count (C speed) rules most checks out
    first; the regexes still decide. Non-ASCII text (Unicode digits, case
    folding) always runs them all.
    """
    digits = sum(map(text.count, "0123456789"))
    lowered = text.lower()
    return {
        "pii.email": "@" in text,
        "pii.credit_card": digits >= 13,
        "pii.us_ssn": digits >= 9 and "-" in text,
        "pii.phone": "+" in text,
        "injection.ignore_instructions": "ignore" in lowered,
        "injection.reveal_system_prompt": "system prompt" in lowered,
    }


def scan(text: str) -> str:
    """JSON array of findings like [{"type": "pii.email", "count": 2}]."""
    if not text:
        return "[]"
    possible = _could_match(text) if text.isascii() else None
    found = []
    for kind, pattern in _CHECKS:
        if possible is not None and not possible[kind]:
            continue
        count = len(pattern.findall(text))
        if count:
            found.append({"type": kind, "count": count})
    return orjson.dumps(found).decode()
