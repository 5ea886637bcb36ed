"""Findings as the drawer shows them: each occurrence masked, with the text around it."""
from __future__ import annotations

from spanlens.security import detectors

CONTEXT_CHARS = 48
OCCURRENCES = 3


def label(kind: str) -> str:
    group, _, name = kind.partition(".")
    return {"pii": "PII", "secret": "Secret", "injection": "Injection"}.get(group, group) + " · " + \
        name.replace("_", " ")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def findings(stored_flags: list, body: str, *, where: str) -> list[dict]:
    """The stored findings of one body, each with up to OCCURRENCES masked excerpts.

    The excerpts come from scanning the stored body again: the flags column keeps
    only the first masked snippet, and never the value itself.
    """
    if not stored_flags:
        return []
    text, matches = detectors.find(body) if body else ("", [])
    by_kind: dict[str, list] = {}
    for m in matches:
        by_kind.setdefault(m.kind, []).append(m)
    out = []
    for flag in stored_flags:
        if not isinstance(flag, dict) or not flag.get("type"):
            continue
        kind = flag["type"]
        excerpts = [
            {"before": ("…" if m.start > CONTEXT_CHARS else "") + _one_line(text[max(0, m.start - CONTEXT_CHARS):m.start]),
             "masked": m.snippet,
             "after": _one_line(text[m.end:m.end + CONTEXT_CHARS]) + ("…" if m.end + CONTEXT_CHARS < len(text) else ""),
             "position": m.start}
            for m in by_kind.get(kind, [])[:OCCURRENCES]
        ]
        if not excerpts and flag.get("snippet"):
            excerpts = [{"before": "", "masked": flag["snippet"], "after": "", "position": flag.get("start")}]
        out.append({
            "type": kind, "label": label(kind), "group": kind.partition(".")[0], "where": where,
            "count": int(flag.get("count") or 1), "confidence": flag.get("confidence"), "excerpts": excerpts,
        })
    return out
