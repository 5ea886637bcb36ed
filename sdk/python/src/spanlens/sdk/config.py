"""Where the SDK finds the Spanlens server and key when the app does not say."""
from __future__ import annotations

import os

DEFAULT_BASE_URL = "http://localhost:8000"


def api_key(explicit: str | None = None) -> str | None:
    return explicit or os.environ.get("SPANLENS_API_KEY") or None


def base_url(explicit: str | None = None) -> str:
    return (explicit or os.environ.get("SPANLENS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
