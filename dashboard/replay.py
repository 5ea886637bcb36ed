"""Replay a logged request: the curl snippet against our proxy, and a server-side run.

The run decrypts the provider key here, never in the browser, calls the
provider with the original body (stream removed, model swapped) and logs the
result as a new request row through the same row builder the proxy uses.
"""
from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass

import orjson
from django.conf import settings

from spanlens.core import crypto
from spanlens.core.models import ModelPrice, ProviderKey

_GEMINI_MODEL = re.compile(r"models/([^/:]+)")
# Seconds: the whole call, and connecting (httpx is imported when a replay runs: ~12 MB
# that a process serving pages need not hold until someone replays a call).
REPLAY_TIMEOUT_S, REPLAY_CONNECT_TIMEOUT_S = 60.0, 10.0
ANTHROPIC_VERSION = "2023-06-01"


class ReplayError(Exception):
    pass


@dataclass
class ReplayRequest:
    endpoint: str
    body: dict
    model: str


# Model names a replay can call as chat: the provider's own families. Price lists also hold
# fine-tune templates (ft:…), codenames and audio / search / realtime variants no chat call takes.
_CHAT_FAMILIES = {
    "openai": re.compile(r"^(gpt-|o\d|chatgpt-)"),
    "anthropic": re.compile(r"^claude-"),
    "gemini": re.compile(r"^(gemini-\d|gemini-(flash|pro)|gemma-)"),
}
_NOT_CHAT = re.compile(r"(^ft:|audio|search|realtime|transcribe|tts|image|embedding|moderation|computer-use|robotics|"
                       r"customtools|dall-e|whisper)")
_DATED = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{2}-\d{4})$")
_CLAUDE_TIER = re.compile(r"(opus|sonnet|haiku|fable|mythos)")


@dataclass
class ModelGroup:
    label: str
    models: list[str]


def models_for(row: dict) -> list[ModelGroup]:
    """The replay dropdown: the original model first, then the provider's chat models by family,
    newest family and version first."""
    provider = "openai" if row["provider"] == "azure" else row["provider"]
    endpoint = row.get("endpoint") or ""
    modes = ("chat", "responses") if "responses" in endpoint else ("chat",)
    family = _CHAT_FAMILIES.get(provider)
    names = [
        n for n in ModelPrice.objects.filter(provider=provider, mode__in=modes).values_list("model", flat=True)
        if (family is None or family.match(n)) and not _NOT_CHAT.search(n)
    ]
    original = _original_model(row)
    groups: dict[str, list[str]] = {}
    for name in sorted(set(names) - {original}, key=_natural, reverse=True):
        groups.setdefault(_family_label(name), []).append(name)
    return [ModelGroup("Original", [original]), *(ModelGroup(label, models) for label, models in groups.items())]


def _natural(name: str) -> list:
    """Sort key where gpt-10 follows gpt-9 and dated snapshots follow their alias (sorted descending)."""
    base = _DATED.sub("", name)
    parts = re.split(r"(\d+)", base)
    return [(1, int(p)) if p.isdecimal() else (0, p) for p in parts] + [(1 if base == name else 0, name)]


def _family_label(name: str) -> str:
    base = _DATED.sub("", name)
    if base.startswith("claude-"):
        tier = _CLAUDE_TIER.search(base)
        return f"Claude {tier.group(1).title()}" if tier else "Claude"
    if match := re.match(r"gpt-(\d+(?:\.\d+)?o?)", base):
        return f"GPT-{match.group(1)}"
    if re.match(r"o\d", base):
        return "o-series"
    if match := re.match(r"gemini-(\d+(?:\.\d+)?)", base):
        return f"Gemini {match.group(1)}"
    if base.startswith("gemini-"):
        return "Gemini (latest)"
    return base.split("-", 1)[0].split("/", 1)[0].title()


def _original_model(row: dict) -> str:
    try:
        body = orjson.loads(row.get("request_body") or "")
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        return body["model"]
    match = _GEMINI_MODEL.search(row.get("endpoint") or "")
    return match.group(1) if match else row.get("model") or ""


def build(row: dict, model: str | None) -> ReplayRequest:
    """The original call, non-streaming, with the chosen model."""
    try:
        body = orjson.loads(row.get("request_body") or "")
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise ReplayError("The request body was not stored (body logging off or truncated), so it cannot be replayed.")
    body.pop("stream", None)
    body.pop("stream_options", None)
    endpoint = row.get("endpoint") or ""
    model = model or _original_model(row)
    if row["provider"] == "gemini":
        endpoint = endpoint.replace(":streamGenerateContent", ":generateContent")
        endpoint = _GEMINI_MODEL.sub(f"models/{model}", endpoint, count=1)
    elif "model" in body or row["provider"] != "azure":
        body["model"] = model
    return ReplayRequest(endpoint, body, model)


def curl_snippet(row: dict, model: str | None) -> str:
    replay = build(row, model)
    url = f"{settings.WEB_URL}/proxy/{row['provider']}/{replay.endpoint}"
    auth = {
        "azure": 'api-key: $SPANLENS_API_KEY',
        "anthropic": 'x-api-key: $SPANLENS_API_KEY',
        "gemini": 'x-goog-api-key: $SPANLENS_API_KEY',
    }.get(row["provider"], 'Authorization: Bearer $SPANLENS_API_KEY')  # OpenAI and its compatibles
    lines = [f"curl {shlex.quote(url)}", f'-H "{auth}"', "-H 'Content-Type: application/json'"]
    if row["provider"] == "anthropic":
        lines.append(f"-H 'anthropic-version: {ANTHROPIC_VERSION}'")
    lines.append("-d " + shlex.quote(orjson.dumps(replay.body, option=orjson.OPT_INDENT_2).decode()))
    return " \\\n  ".join(lines)


def run(access, row: dict, model: str | None) -> dict:
    """Run the replay now; the user is waiting for the result card."""
    from dashboard.tasks import replay_request

    build(row, model)  # fail fast on an unreplayable body
    result = replay_request.apply(
        kwargs={"organization_id": str(access.organization.id), "request_id": row["id"], "model": model}
    # The embedded default runs a worker in this process, which makes Celery treat
    # every wait as a wait inside a task; this one is a view waiting on its own run.
    ).get(propagate=False, disable_sync_subtasks=False)
    if isinstance(result, Exception):
        raise ReplayError(str(result))
    if result.get("error"):
        raise ReplayError(result["error"])
    return result


def provider_key_for(row: dict) -> ProviderKey:
    """The key the original call used, else the project's newest active key for the provider."""
    keys = ProviderKey.objects.filter(organization_id=row["organization_id"], provider=row["provider"], is_active=True)
    key = keys.filter(id=row["provider_key_id"]).first() if row.get("provider_key_id") else None
    key = key or keys.filter(project_id=row["project_id"]).order_by("-created_at").first()
    if key is None:
        raise ReplayError(f"This project has no active {row['provider']} provider key to replay with.")
    return key


def call_upstream(provider: str, replay: ReplayRequest, key: ProviderKey) -> tuple[int, bytes, int]:
    """One non-streaming call through the provider's adapter. Returns (status, body, latency_ms)."""
    from proxy.auth import ResolvedProviderKey
    from proxy.providers import ADAPTERS
    from spanlens.core.services import provider_key_headers

    adapter = ADAPTERS[provider]
    resolved = ResolvedProviderKey(
        id=str(key.id),
        secret=crypto.decrypt(key.encrypted_secret),
        azure_endpoint=key.azure_endpoint,
        azure_deployment=key.azure_deployment,
        azure_api_version=key.azure_api_version,
        base_url=key.base_url,
        price_free=key.price_free,
    )
    url = adapter.upstream_url(settings.UPSTREAM_BASE_URLS.get(provider), replay.endpoint, b"", resolved)
    if not url:
        raise ReplayError(f"The {provider} provider key has no base URL.")
    headers = dict(provider_key_headers(key))
    headers.update({k.decode(): v.decode() for k, v in adapter.auth_headers(resolved)})
    headers["content-type"] = "application/json"
    if provider == "anthropic":
        headers["anthropic-version"] = ANTHROPIC_VERSION
    import httpx

    started = time.perf_counter()
    try:
        with httpx.Client(timeout=httpx.Timeout(REPLAY_TIMEOUT_S, connect=REPLAY_CONNECT_TIMEOUT_S)) as client:
            response = client.post(url, content=orjson.dumps(replay.body), headers=headers)
    except httpx.HTTPError as exc:
        raise ReplayError(f"Could not reach {provider}: {exc.__class__.__name__}: {exc}")
    return response.status_code, response.content, int((time.perf_counter() - started) * 1000)
