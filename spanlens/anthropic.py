"""Anthropic clients that go through the Spanlens proxy.

    from spanlens.anthropic import create_anthropic
    client = create_anthropic()       # SPANLENS_API_KEY, SPANLENS_BASE_URL
"""
from __future__ import annotations

import anthropic

from spanlens.sdk import config
from spanlens.sdk.hooks import CallTracer
from spanlens.sdk.sampling import Sampling


def _options(api_key, sampling, log_body, kw, is_async: bool) -> dict:
    key = config.api_key(api_key)
    if not key:
        raise ValueError("a Spanlens API key is required: pass api_key= or set SPANLENS_API_KEY")
    headers = dict(kw.pop("default_headers", None) or {})
    if log_body is not None:
        from spanlens.sdk.headers import with_log_body

        headers.update(with_log_body(log_body).headers)
    http_client = kw.pop("http_client", None) or (
        anthropic.DefaultAsyncHttpxClient() if is_async else anthropic.DefaultHttpxClient()
    )
    CallTracer("anthropic", Sampling.of(sampling)).install(http_client, is_async=is_async)
    return {"api_key": key, "default_headers": headers, "http_client": http_client, **kw}


def create_anthropic(api_key=None, base_url=None, sampling=None, log_body=None, **kw) -> anthropic.Anthropic:
    """An anthropic.Anthropic pointed at {SPANLENS_BASE_URL}/proxy/anthropic."""
    options = _options(api_key, sampling, log_body, kw, is_async=False)
    return anthropic.Anthropic(base_url=f"{config.base_url(base_url)}/proxy/anthropic", **options)


def create_async_anthropic(api_key=None, base_url=None, sampling=None, log_body=None, **kw) -> anthropic.AsyncAnthropic:
    options = _options(api_key, sampling, log_body, kw, is_async=True)
    return anthropic.AsyncAnthropic(base_url=f"{config.base_url(base_url)}/proxy/anthropic", **options)
