"""Gemini (google-genai) clients that go through the Spanlens proxy.

    from spanlens.gemini import create_gemini
    client = create_gemini()          # SPANLENS_API_KEY, SPANLENS_BASE_URL
    client.models.generate_content(model="gemini-2.0-flash", contents="hi")
    await client.aio.models.generate_content(...)
"""
from __future__ import annotations

import httpx
from google import genai
from google.genai import types

from spanlens.sdk import config
from spanlens.sdk.hooks import CallTracer
from spanlens.sdk.sampling import Sampling


def create_gemini(api_key=None, base_url=None, sampling=None, log_body=None, **kw) -> genai.Client:
    """A google.genai.Client pointed at {SPANLENS_BASE_URL}/proxy/gemini (sync and .aio)."""
    key = config.api_key(api_key)
    if not key:
        raise ValueError("a Spanlens API key is required: pass api_key= or set SPANLENS_API_KEY")
    headers = {}
    if log_body is not None:
        from spanlens.sdk.headers import with_log_body

        headers.update(with_log_body(log_body).headers)
    tracer = CallTracer("gemini", Sampling.of(sampling))
    # Our own httpx clients carry the per-call hooks; passing both also keeps .aio on
    # httpx (google-genai would otherwise pick aiohttp when it is installed).
    http_options = types.HttpOptions(
        base_url=f"{config.base_url(base_url)}/proxy/gemini",
        headers=headers or None,
        httpx_client=tracer.install(httpx.Client(timeout=600), is_async=False),
        httpx_async_client=tracer.install(httpx.AsyncClient(timeout=600), is_async=True),
    )
    return genai.Client(api_key=key, http_options=http_options, **kw)
