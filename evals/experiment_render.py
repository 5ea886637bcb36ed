"""What one variant sends for one item: the prompt version rendered once with the item's
variables (a chat prompt becomes its messages), the provider, model and settings, as the
provider's own request body."""
from __future__ import annotations

from dataclasses import dataclass

from evals.prompt_playground import DEFAULT_MODELS, PROVIDERS, as_prompt, build_call
from spanlens.prompts import VARIABLE, MissingVariablesError


class RenderError(ValueError):
    pass


@dataclass
class Call:
    provider: str
    model: str
    endpoint: str
    body: dict
    messages: list[dict]


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("text"))
    return "" if content is None else str(content)


def _template_leftovers(version) -> list[str]:
    """Braces that are not a placeholder (e.g. `{{ 1st }}`) would reach the provider as they
    are; a template that has them is refused rather than sent half-rendered."""
    parts = [version.template] if version.kind != "chat" else [str(m.get("content", "")) for m in version.messages]
    return [p for p in parts if "{{" in VARIABLE.sub("", p or "")]


def messages_for(variant, item_input: dict) -> list[dict]:
    variables = item_input.get("variables") if isinstance(item_input.get("variables"), dict) else None
    item_messages = [{"role": m["role"], "content": _text(m.get("content"))}
                     for m in item_input.get("messages") or [] if isinstance(m, dict)]
    version = variant.prompt_version
    if version is None:
        if not item_messages:
            raise RenderError("a variant without a prompt version needs items with messages")
        return item_messages
    if _template_leftovers(version):
        raise RenderError(f"{version.prompt.name}@{version.version} has braces that are not a "
                          "{{variable}} placeholder")
    prompt = as_prompt(version)
    try:
        rendered = prompt.messages(**(variables or {}))
    except MissingVariablesError as exc:
        raise RenderError(f"the item has no value for {', '.join(exc.missing)}") from None
    if variables is None and item_messages:
        # A conversation without variables (a replayed request): the version takes the
        # place of its system prompt.
        if version.kind != "chat":
            rendered = [{"role": "system", "content": rendered[0]["content"]}]
        return rendered + [m for m in item_messages if m["role"] not in ("system", "developer")]
    return rendered


def build(variant, item_input: dict) -> Call:
    config = dict(variant.prompt_version.model_config) if variant.prompt_version else {}
    provider = variant.provider or config.get("provider") or "openai"
    if provider not in PROVIDERS:
        raise RenderError(f"provider must be one of {', '.join(PROVIDERS)}")
    model = variant.model or config.get("model") or DEFAULT_MODELS[provider]
    settings = {**{k: config[k] for k in ("temperature", "max_tokens") if k in config}, **(variant.settings or {})}
    messages = messages_for(variant, item_input)
    endpoint, body = build_call(provider, model, messages, temperature=settings.get("temperature"),
                                max_tokens=settings.get("max_tokens"))
    return Call(provider, model, endpoint, body, messages)

