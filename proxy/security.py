"""The security scan the log writer runs on each stored body (see spanlens.security.detectors)."""
from __future__ import annotations

import orjson

from spanlens.security import detectors
from spanlens.security.detectors import DETECTORS, SCAN_WINDOW

__all__ = ["DETECTORS", "SCAN_WINDOW", "scan"]


def scan(body: str, *, prefilter: bool = True, redacted: list[dict] | None = None) -> str:
    """The flags column; findings a policy redacted before forwarding come first, marked "redacted"."""
    if not redacted:
        return detectors.scan(body, prefilter=prefilter)
    found = [{**f, "redacted": True} for f in redacted]
    kinds = {f["type"] for f in found}
    found.extend(f for f in orjson.loads(detectors.scan(body, prefilter=prefilter)) if f["type"] not in kinds)
    return orjson.dumps(found).decode()
