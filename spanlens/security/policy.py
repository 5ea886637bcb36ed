"""Policies applied before a call is forwarded: block injections, redact PII into typed placeholders.

Runs on the proxy's event loop, and only for projects whose policy is not
log-only, so log-only projects pay nothing here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from spanlens.security import detectors

_REDACTED_GROUPS = ("pii.", "secret.")


@dataclass
class Verdict:
    blocked: bool = False
    # The body to forward and store when something was redacted, else None.
    body: bytes | None = None
    findings: list[dict] = field(default_factory=list)

    @property
    def message(self) -> str:
        kinds = ", ".join(sorted({f["type"] for f in self.findings if f["type"].startswith("injection.")}))
        return f"Blocked by this project's security policy: prompt injection detected ({kinds})."


def placeholder(kind: str) -> str:
    return kind.partition(".")[2].upper()


def redact_text(text: str, numbering: dict[tuple[str, str], int], counters: dict[str, int]) -> tuple[str, list]:
    """The text with each PII or secret value replaced by [TYPE_N]; the same value keeps its number."""
    found = [m for m in detectors.find_in_text(text) if m.kind.startswith(_REDACTED_GROUPS)]
    if not found:
        return text, []
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept, last_end = [], -1
    for m in found:
        if m.start >= last_end:  # overlapping findings (a phone inside a card): the first, longest wins
            kept.append(m)
            last_end = m.end
    parts, at = [], 0
    for m in kept:
        name = placeholder(m.kind)
        key = (name, m.value)
        if key not in numbering:
            counters[name] = counters.get(name, 0) + 1
            numbering[key] = counters[name]
        parts.append(text[at:m.start])
        parts.append(f"[{name}_{numbering[key]}]")
        at = m.end
    parts.append(text[at:])
    return "".join(parts), kept


def _redact_node(node, numbering, counters, matched):
    if isinstance(node, str):
        text, kept = redact_text(node, numbering, counters)
        matched.extend(kept)
        return text
    if isinstance(node, list):
        return [_redact_node(item, numbering, counters, matched) for item in node]
    if isinstance(node, dict):
        # Keys are the API's field names, never user content: only values are redacted.
        return {k: (v if k in ("model", "role", "type") else _redact_node(v, numbering, counters, matched))
                for k, v in node.items()}
    return node


def enforce(body: bytes, *, block_injection: bool, redact_pii: bool) -> Verdict:
    if not body:
        return Verdict()
    text = body.decode("utf-8", errors="replace")
    verdict = Verdict()
    if block_injection:
        _, found = detectors.find(text)
        verdict.findings = detectors.summarize([m for m in found if m.kind.startswith("injection.")])
        if verdict.findings:
            verdict.blocked = True
            return verdict
    if redact_pii:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        numbering: dict = {}
        counters: dict = {}
        matched: list = []
        if doc is not None:
            redacted = _redact_node(doc, numbering, counters, matched)
            new_body = orjson.dumps(redacted) if matched else None
        else:
            new_text, matched = redact_text(text, numbering, counters)
            new_body = new_text.encode() if matched else None
        if new_body is not None:
            verdict.body = new_body
            verdict.findings = detectors.summarize(matched)
    return verdict
