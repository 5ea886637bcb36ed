"""OpenAI and Azure OpenAI clients that go through the Spanlens proxy.

    from spanlens.openai import create_openai
    client = create_openai()          # SPANLENS_API_KEY, SPANLENS_BASE_URL
    client.chat.completions.create(..., extra_headers=with_user("u1").headers)

The Spanlens key stands in for the provider key: the proxy holds the real one.
"""
from __future__ import annotations

from typing import Any

import openai

from spanlens.sdk import config
from spanlens.sdk.hooks import CallTracer
from spanlens.sdk.sampling import Sampling

DEFAULT_AZURE_API_VERSION = "2024-10-21"


def _options(provider: str, api_key, sampling, log_body, kw: dict[str, Any], is_async: bool) -> dict[str, Any]:
    key = config.api_key(api_key)
    if not key:
        raise ValueError("a Spanlens API key is required: pass api_key= or set SPANLENS_API_KEY")
    headers = dict(kw.pop("default_headers", None) or {})
    if log_body is not None:
        from spanlens.sdk.headers import with_log_body

        headers.update(with_log_body(log_body).headers)
    http_client = kw.pop("http_client", None) or (
        openai.DefaultAsyncHttpxClient() if is_async else openai.DefaultHttpxClient()
    )
    CallTracer(provider, Sampling.of(sampling)).install(http_client, is_async=is_async)
    return {"api_key": key, "default_headers": headers, "http_client": http_client, **kw}


def create_openai(api_key=None, base_url=None, sampling=None, log_body=None, **kw) -> openai.OpenAI:
    """An openai.OpenAI pointed at {SPANLENS_BASE_URL}/proxy/openai/v1."""
    options = _options("openai", api_key, sampling, log_body, kw, is_async=False)
    return openai.OpenAI(base_url=f"{config.base_url(base_url)}/proxy/openai/v1", **options)


def create_async_openai(api_key=None, base_url=None, sampling=None, log_body=None, **kw) -> openai.AsyncOpenAI:
    options = _options("openai", api_key, sampling, log_body, kw, is_async=True)
    return openai.AsyncOpenAI(base_url=f"{config.base_url(base_url)}/proxy/openai/v1", **options)


def create_azure_openai(
    api_key=None, base_url=None, sampling=None, log_body=None, *, api_version=DEFAULT_AZURE_API_VERSION, **kw
) -> openai.AzureOpenAI:
    """An openai.AzureOpenAI pointed at {SPANLENS_BASE_URL}/proxy/azure (the Azure key lives in Spanlens)."""
    options = _options("azure", api_key, sampling, log_body, kw, is_async=False)
    return openai.AzureOpenAI(
        azure_endpoint=f"{config.base_url(base_url)}/proxy/azure", api_version=api_version, **options
    )


def create_async_azure_openai(
    api_key=None, base_url=None, sampling=None, log_body=None, *, api_version=DEFAULT_AZURE_API_VERSION, **kw
) -> openai.AsyncAzureOpenAI:
    options = _options("azure", api_key, sampling, log_body, kw, is_async=True)
    return openai.AsyncAzureOpenAI(
        azure_endpoint=f"{config.base_url(base_url)}/proxy/azure", api_version=api_version, **options
    )
