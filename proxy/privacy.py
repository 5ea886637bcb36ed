"""What we store of a body: key patterns masked, capped at BODY_CAP_BYTES with a marker."""
from __future__ import annotations

import re

# Longest prefixes first so sk-proj-/sk-ant- keep their own prefix in the mask.
_KEY_PATTERN = re.compile(r"(sk-proj-|sk-ant-|sk-|AIza|sl_live_)[A-Za-z0-9_\-]{12,}")
TRUNCATION_MARKER = "\n…[truncated by Spanlens: {total} bytes, first {cap} kept]"


def mask_keys(text: str) -> str:
    if "sk-" not in text and "AIza" not in text and "sl_live_" not in text:
        return text
    return _KEY_PATTERN.sub(lambda m: m.group(1) + "***", text)


def cap(text: str, limit: int) -> tuple[str, bool]:
    data = text.encode("utf-8", errors="replace")
    if len(data) <= limit:
        return text, False
    kept = data[:limit].decode("utf-8", errors="ignore")
    return kept + TRUNCATION_MARKER.format(total=len(data), cap=limit), True


def stored_body(raw: bytes | str | None, limit: int) -> str:
    if not raw:
        return ""
    text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")
    return cap(mask_keys(text), limit)[0]
