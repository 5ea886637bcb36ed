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
from spanlens.sdk.clientopts import provider_client_options

DEFAULT_AZURE_API_VERSION = "2024-10-21"


def _options(provider: str, api_key, sampling, log_body, kw: dict[str, Any], is_async: bool) -> dict[str, Any]:
    return provider_client_options(openai, provider, api_key, sampling, log_body, kw, is_async)


# Providers that speak OpenAI's API through the proxy, so the openai SDK is their client.
OPENAI_COMPATIBLE = ("openai", "mistral", "groq", "deepseek", "xai", "openrouter", "together", "fireworks", "custom")


def _proxy_path(provider: str) -> str:
    if provider not in OPENAI_COMPATIBLE:
        raise ValueError(f"provider must be one of {', '.join(OPENAI_COMPATIBLE)}")
    return f"/proxy/{provider}/v1"


def create_openai(api_key=None, base_url=None, sampling=None, log_body=None, *, provider="openai",
                  **kw) -> openai.OpenAI:
    """An openai.OpenAI pointed at {SPANLENS_BASE_URL}/proxy/<provider>/v1 (openai, groq, custom, …)."""
    path = _proxy_path(provider)
    options = _options(provider, api_key, sampling, log_body, kw, is_async=False)
    return openai.OpenAI(base_url=f"{config.base_url(base_url)}{path}", **options)


def create_async_openai(api_key=None, base_url=None, sampling=None, log_body=None, *, provider="openai",
                        **kw) -> openai.AsyncOpenAI:
    path = _proxy_path(provider)
    options = _options(provider, api_key, sampling, log_body, kw, is_async=True)
    return openai.AsyncOpenAI(base_url=f"{config.base_url(base_url)}{path}", **options)


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
