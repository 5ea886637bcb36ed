"""The security scan the log writer runs on each stored body (see spanlens.security.detectors)."""
from __future__ import annotations

from spanlens.security.detectors import DETECTORS, SCAN_WINDOW, scan

__all__ = ["DETECTORS", "SCAN_WINDOW", "scan"]
