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


def scan(text: str) -> str:
    """JSON array of findings like [{"type": "pii.email", "count": 2}]."""
    if not text:
        return "[]"
    found = []
    for kind, pattern in _CHECKS:
        count = len(pattern.findall(text))
        if count:
            found.append({"type": kind, "count": count})
    return orjson.dumps(found).decode()
