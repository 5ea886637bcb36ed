"""Constructor options shared by the provider client factories (openai, anthropic)."""
from __future__ import annotations

from typing import Any

from spanlens.sdk import config
from spanlens.sdk.hooks import CallTracer
from spanlens.sdk.sampling import Sampling


def provider_client_options(
    sdk, provider: str, api_key, sampling, log_body, kw: dict[str, Any], is_async: bool
) -> dict[str, Any]:
    """api_key, default headers and an httpx client whose hooks carry trace ids and sampling.

    `sdk` is the provider module (openai or anthropic); both ship httpx client
    classes with their own defaults, which we keep.
    """
    key = config.api_key(api_key)
    if not key:
        raise ValueError("a Spanlens API key is required: pass api_key= or set SPANLENS_API_KEY")
    headers = dict(kw.pop("default_headers", None) or {})
    if log_body is not None:
        from spanlens.sdk.headers import with_log_body

        headers.update(with_log_body(log_body).headers)
    http_client = kw.pop("http_client", None) or (
        sdk.DefaultAsyncHttpxClient() if is_async else sdk.DefaultHttpxClient()
    )
    CallTracer(provider, Sampling.of(sampling)).install(http_client, is_async=is_async)
    return {"api_key": key, "default_headers": headers, "http_client": http_client, **kw}
