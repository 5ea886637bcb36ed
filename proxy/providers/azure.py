"""Azure OpenAI: OpenAI's formats, the `api-key` header, a per-key endpoint and deployments."""
from __future__ import annotations

import re

from django.conf import settings

from proxy.providers import openai as openai_adapter
from proxy.providers.base import Prepared, bearer

name = "azure"
AUTH_HEADERS = (b"api-key", b"authorization")
_DEPLOYMENT = re.compile(r"deployments/([^/]+)/")

parse_response = openai_adapter.parse_response
reassemble_stream = openai_adapter.reassemble_stream
is_usage_only_chunk = openai_adapter.is_usage_only_chunk


def client_key(headers: dict[bytes, bytes], query: dict[str, str]) -> str | None:
    value = headers.get(b"api-key")
    return value.decode("latin-1").strip() if value else bearer(headers)


def upstream_url(base: str | None, rest: str, query_string: bytes, key) -> str:
    # The endpoint is the key's own (https://<resource>.openai.azure.com); a configured
    # AZURE_OPENAI_BASE_URL overrides it for every key.
    endpoint = (settings.UPSTREAM_BASE_URLS.get("azure") or key.azure_endpoint or "").rstrip("/")
    url = f"{endpoint}/{rest}"
    if not query_string and key.azure_api_version:
        return f"{url}?api-version={key.azure_api_version}"
    return f"{url}?{query_string.decode('latin-1')}" if query_string else url


def auth_headers(key) -> list[tuple[bytes, bytes]]:
    return [(b"api-key", key.secret.encode())]


def prepare(rest: str, body: bytes, parsed: dict | None) -> Prepared:
    prepared = openai_adapter.prepare(rest, body, parsed)
    if prepared.model is None:
        match = _DEPLOYMENT.search(rest + "/")
        prepared.model = match.group(1) if match else None
    return prepared
