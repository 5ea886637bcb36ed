"""Calls to the Spanlens REST API with the project's API key (datasets, eval runs).

Unlike tracing, these are things the caller asked for and waits on, so errors raise.
"""
from __future__ import annotations

import httpx

from spanlens.sdk import config

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class SpanlensAPIError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None, body: dict | None = None):
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.field, self.body = status, message, field, body or {}


def call(method: str, path: str, *, json=None, params=None, api_key: str | None = None,
         base_url: str | None = None) -> dict:
    """The response's {"data", "meta"}; raises SpanlensAPIError on {"success": false}."""
    key = config.api_key(api_key)
    if not key:
        raise SpanlensAPIError(401, "no API key: pass api_key= or set SPANLENS_API_KEY")
    url = f"{config.base_url(base_url)}{path}"
    response = httpx.request(method, url, json=json, params=params, timeout=TIMEOUT,
                             headers={"Authorization": f"Bearer {key}"})
    try:
        body = response.json()
    except ValueError:
        raise SpanlensAPIError(response.status_code, response.text[:300] or "not JSON") from None
    if response.status_code >= 400 or not body.get("success", False):
        raise SpanlensAPIError(response.status_code, body.get("error", "request failed"), body.get("field"), body)
    return body
