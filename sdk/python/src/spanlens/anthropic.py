"""Anthropic clients that go through the Spanlens proxy.

    from spanlens.anthropic import create_anthropic
    client = create_anthropic()       # SPANLENS_API_KEY, SPANLENS_BASE_URL
"""
from __future__ import annotations

import anthropic

from spanlens.sdk import config
from spanlens.sdk.clientopts import provider_client_options


def _options(api_key, sampling, log_body, kw, is_async: bool) -> dict:
    return provider_client_options(anthropic, "anthropic", api_key, sampling, log_body, kw, is_async)


def create_anthropic(api_key=None, base_url=None, sampling=None, log_body=None, **kw) -> anthropic.Anthropic:
    """An anthropic.Anthropic pointed at {SPANLENS_BASE_URL}/proxy/anthropic."""
    options = _options(api_key, sampling, log_body, kw, is_async=False)
    return anthropic.Anthropic(base_url=f"{config.base_url(base_url)}/proxy/anthropic", **options)


def create_async_anthropic(api_key=None, base_url=None, sampling=None, log_body=None, **kw) -> anthropic.AsyncAnthropic:
    options = _options(api_key, sampling, log_body, kw, is_async=True)
    return anthropic.AsyncAnthropic(base_url=f"{config.base_url(base_url)}/proxy/anthropic", **options)
