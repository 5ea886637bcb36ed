"""Security flags on stored bodies: PII and prompt-injection findings (a JSON array).

Every stored body is scanned in the log writer, which shares the GIL with the
event loop: a slow scan stalls every tenant's calls, so a scan must cost little
and never more than linear time, whatever the body. Hence:

- Each pattern is linear for Python's backtracking engine: it starts with a
  literal or a character class (the engine skips to candidates at C speed),
  every repetition is bounded, and no two repetitions can match the same text,
  so a failed attempt costs a constant. Emails are anchored on the "@" and look
  one character back instead of scanning a local part that may be megabytes of
  letters (what made the old pattern quadratic).
- Patterns match ASCII only (digits, letters, case), so the cheap necessary
  conditions below hold for any text, non-ASCII included.
- At most SCAN_WINDOW characters are read: stored bodies are capped at
  BODY_CAP_BYTES (64 KB by default) already, so by default this only bounds
  callers that pass more; with a larger cap, flags cover the first 64 KB.
"""
from __future__ import annotations

import re

import orjson

# The default body cap (64 KB) plus room for the truncation marker.
SCAN_WINDOW = 64 * 1024 + 256

_WORD = "0-9A-Za-z_"
_CHECKS = (
    ("pii.email", re.compile(
        r"@(?<=[A-Za-z0-9._%+-]@)(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,63}")),
    ("pii.credit_card", re.compile(
        rf"[0-9](?<![{_WORD}][0-9])(?:[ -]?[0-9]){{12,15}}(?![{_WORD}])")),
    ("pii.us_ssn", re.compile(
        rf"[0-9](?<![{_WORD}][0-9])[0-9]{{2}}-[0-9]{{2}}-[0-9]{{4}}(?![{_WORD}])")),
    ("pii.phone", re.compile(
        rf"\+[0-9]{{1,3}}[ .-]?\(?[0-9]{{2,4}}\)?[ .-]?[0-9]{{3,4}}[ .-]?[0-9]{{3,4}}(?![{_WORD}])")),
    ("injection.ignore_instructions", re.compile(
        r"(?i:ignore (?:all |any )?(?:the )?(?:previous|prior|above) (?:instructions|prompts?))", re.ASCII)),
    ("injection.reveal_system_prompt", re.compile(
        r"(?i:(?:reveal|print|show) (?:me )?(?:your|the) system prompt)", re.ASCII)),
)


def _could_match(text: str) -> dict[str, bool]:
    """Necessary conditions per check, at C speed: most bodies rule most checks out."""
    digits = sum(map(text.count, "0123456789"))
    lowered = text.lower()
    return {
        "pii.email": "@" in text,
        "pii.credit_card": digits >= 13,
        "pii.us_ssn": digits >= 9 and "-" in text,
        "pii.phone": digits >= 9 and "+" in text,
        "injection.ignore_instructions": "ignore" in lowered,
        "injection.reveal_system_prompt": "system prompt" in lowered,
    }


def scan(text: str) -> str:
    """JSON array of findings like [{"type": "pii.email", "count": 2}]."""
    if not text:
        return "[]"
    text = text[:SCAN_WINDOW]
    possible = _could_match(text)
    found = []
    for kind, pattern in _CHECKS:
        if not possible[kind]:
            continue
        count = len(pattern.findall(text))
        if count:
            found.append({"type": kind, "count": count})
    return orjson.dumps(found).decode()
