"""OpenAI-compatible providers (Mistral, Groq, DeepSeek, xAI, OpenRouter, Together,
Fireworks) and custom endpoints (vLLM, Ollama, LM Studio, TGI): OpenAI's wire format
and Bearer auth, at another base URL.

Base URLs here are what the provider's docs give the OpenAI SDK (ending in /v1); a
client calls /proxy/<provider>/v1/..., and the /v1/ it sends is the base's own.
"""
from __future__ import annotations

from proxy.providers import openai as openai_adapter
from proxy.providers.base import Prepared, bearer, join_v1

# provider -> how messages name it. Base URLs are in settings.UPSTREAM_BASE_URLS
# (<PROVIDER>_BASE_URL in the environment); "custom" has none: each key brings its own.
PROVIDERS = {
    "mistral": "Mistral",
    "groq": "Groq",
    "deepseek": "DeepSeek",
    "xai": "xAI",
    "openrouter": "OpenRouter",
    "together": "Together AI",
    "fireworks": "Fireworks AI",
    "custom": "a custom OpenAI-compatible endpoint",
}
AUTH_HEADERS = (b"authorization",)
# Providers known to accept stream_options.include_usage. The others report stream usage
# unasked (Mistral, OpenRouter, Fireworks, Groq's x_groq) or may reject the field (some
# self-hosted servers); a stream that still ends without usage gets estimated tokens.
_STREAM_USAGE_OPTION = frozenset({"deepseek", "xai", "together"})


class CompatAdapter:
    """One adapter per OpenAI-compatible provider; they differ only in name and base URL."""

    AUTH_HEADERS = AUTH_HEADERS
    reassemble_stream = staticmethod(openai_adapter.reassemble_stream)
    is_usage_only_chunk = staticmethod(openai_adapter.is_usage_only_chunk)

    def __init__(self, name: str):
        self.name = name
        self.label = PROVIDERS[name]

    def prepare(self, rest: str, body: bytes, parsed: dict | None) -> Prepared:
        return openai_adapter.prepare(rest, body, parsed, ask_stream_usage=self.name in _STREAM_USAGE_OPTION)

    def client_key(self, headers: dict[bytes, bytes], query: dict[str, str]) -> str | None:
        return bearer(headers)

    def upstream_url(self, base: str | None, rest: str, query_string: bytes, key) -> str | None:
        # The key's own base URL (checked when it was saved) wins over the provider's.
        base = key.base_url or base
        return join_v1(base, rest, query_string) if base else None

    def auth_headers(self, key) -> list[tuple[bytes, bytes]]:
        # Self-hosted endpoints may take no key at all.
        return [(b"authorization", b"Bearer " + key.secret.encode())] if key.secret else []

    parse_response = staticmethod(openai_adapter.parse_response)

    def __repr__(self) -> str:
        return f"<CompatAdapter {self.name}>"


ADAPTERS = {name: CompatAdapter(name) for name in PROVIDERS}
