"""Which proxy paths may be forwarded.

The part after /proxy/<provider>/ is appended to the provider's base URL, and
the HTTP client normalises dot segments: /proxy/openai/../../admin/ would reach
the provider's /admin/ with our provider key attached. A path that could climb,
in any spelling, is refused before anything is resolved or forwarded.
"""
from __future__ import annotations

# Percent-encodings of ".", "/" and "\" left in the decoded path mean the client
# encoded them twice: the upstream's server or our HTTP client may decode them again.
_ENCODED = ("%2e", "%2f", "%5c")


def is_safe(scope) -> bool:
    path: str = scope["path"]
    raw = scope.get("raw_path")
    # Nearly every call: no backslash, no percent sign and no segment starting with a dot
    # (every segment follows a slash) leave nothing for the checks below to find.
    if "/." not in path and "\\" not in path and "%" not in path and not (raw and b"%" in raw):
        return True
    if "\\" in path:
        return False
    lowered = path.lower()
    if any(code in lowered for code in _ENCODED):
        return False
    if raw and any(code.encode() in raw.lower() for code in _ENCODED):
        return False
    return not any(segment in (".", "..") for segment in path.split("/"))
