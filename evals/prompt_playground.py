"""The playground: one version, filled in, run through the organization's provider
key and logged as a request carrying the version id.

It reuses the replay machinery (dashboard.replay): the key is decrypted on the
server, the call goes to the provider through its adapter, and the row is built
by the proxy's own row builder, so it looks like any other logged call.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace

import orjson

from dashboard import replay
from evals.models import PromptVersion
from spanlens.core.models import ProviderKey
from spanlens.prompts import MissingVariablesError, Prompt

PROVIDERS = ("openai", "anthropic", "gemini")
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-20241022", "gemini": "gemini-1.5-flash"}
ANTHROPIC_DEFAULT_MAX_TOKENS = 1024


class PlaygroundError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class PlaygroundRun:
    request_id: str
    provider: str
    model: str
    status_code: int
    output: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float | None
    latency_ms: int
    error: str = ""


def as_prompt(version: PromptVersion) -> Prompt:
    return Prompt(name=version.prompt.name, version=version.version, id=str(version.id), kind=version.kind,
                  template=version.template, chat=list(version.messages), variables=list(version.variables),
                  config=dict(version.model_config))


def build_call(provider: str, model: str, messages: list[dict], *, temperature=None, max_tokens=None):
    """(endpoint, body) in the provider's own wire format."""
    if provider == "openai":
        body = {"model": model, "messages": messages}
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        return "v1/chat/completions", body
    system = "\n\n".join(m["content"] for m in messages if m["role"] in ("system", "developer"))
    turns = [m for m in messages if m["role"] not in ("system", "developer")] or [{"role": "user", "content": ""}]
    if provider == "anthropic":
        body = {"model": model, "max_tokens": max_tokens or ANTHROPIC_DEFAULT_MAX_TOKENS, "messages": turns}
        if system:
            body["system"] = system
        if temperature is not None:
            body["temperature"] = temperature
        return "v1/messages", body
    if provider == "gemini":
        body = {"contents": [
            {"role": "model" if m["role"] == "assistant" else "user", "parts": [{"text": m["content"]}]} for m in turns
        ]}
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        config = {}
        if temperature is not None:
            config["temperature"] = temperature
        if max_tokens is not None:
            config["maxOutputTokens"] = max_tokens
        if config:
            body["generationConfig"] = config
        return f"v1beta/models/{model}:generateContent", body
    raise PlaygroundError("provider", f"must be one of {', '.join(PROVIDERS)}")


def provider_key(version: PromptVersion, provider: str) -> ProviderKey:
    """The prompt's project's newest active key for the provider, else the organization's."""
    keys = ProviderKey.objects.filter(organization_id=version.organization_id, provider=provider, is_active=True)
    key = keys.filter(project_id=version.prompt.project_id).order_by("-created_at").first()
    key = key or keys.order_by("-created_at").first()
    if key is None:
        raise PlaygroundError("provider", f"this organization has no active {provider} provider key; "
                                          "add one in Settings → Provider keys")
    return key


def run(version: PromptVersion, *, provider: str, model: str, values: dict, temperature=None,
        max_tokens=None) -> PlaygroundRun:
    from dashboard.tasks import _output_text
    from proxy.logentry import PendingLog
    from spanlens.requestlog.writer import write_batch

    if provider not in PROVIDERS:
        raise PlaygroundError("provider", f"must be one of {', '.join(PROVIDERS)}")
    model = (model or "").strip() or version.model_config.get("model") or DEFAULT_MODELS[provider]
    try:
        messages = as_prompt(version).messages(**values)
    except MissingVariablesError as exc:
        raise PlaygroundError("variables", f"fill in {', '.join(exc.missing)}")
    endpoint, body = build_call(provider, model, messages, temperature=temperature, max_tokens=max_tokens)
    key = provider_key(version, provider)
    created_at = time.time()
    try:
        status, raw, latency_ms = replay.call_upstream(provider, replay.ReplayRequest(endpoint, body, model), key)
    except replay.ReplayError as exc:
        raise PlaygroundError("provider", str(exc))

    tenant = SimpleNamespace(organization_id=str(version.organization_id), project_id=str(key.project_id),
                             api_key_id=None)
    entry = PendingLog(created_at=created_at, tenant=tenant, provider=provider, endpoint=endpoint, method="POST",
                       meta={"prompt_version_id": str(version.id)})
    entry.provider_key_id = str(key.id)
    entry.model = model
    entry.request_body = orjson.dumps(body)
    entry.response_raw = raw
    entry.status_code = status
    entry.latency_ms = latency_ms
    row = entry.to_row()
    write_batch([row])
    return PlaygroundRun(
        request_id=row["id"], provider=provider, model=row["model"] or model, status_code=status,
        output=_output_text(provider, raw), prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"], total_tokens=row["total_tokens"],
        cost_usd=float(row["cost_usd"]) if row["cost_usd"] is not None else None, latency_ms=latency_ms,
        error=row["error_message"] if status >= 400 else "",
    )
