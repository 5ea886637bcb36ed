"""What GenAI semantic conventions and OpenInference attributes say about one span.

Two vocabularies describe the same LLM call: OpenTelemetry's `gen_ai.*`
(opentelemetry-instrumentation-openai-v2 and friends; older and newer
versions name tokens and messages differently) and OpenInference's
`llm.*` / `input.value` (Arize Phoenix's instrumentations). Each reader
below tries them in turn and returns None when neither says.
"""
from __future__ import annotations

import json
import re
from typing import Any

# gen_ai.system / gen_ai.provider.name / llm.provider values, as our provider names (the price table's).
PROVIDERS = {
    "openai": "openai",
    "az.ai.openai": "azure",
    "azure.ai.openai": "azure",
    "azure": "azure",
    "anthropic": "anthropic",
    "gcp.gemini": "gemini",
    "gcp.vertex_ai": "gemini",
    "gcp.gen_ai": "gemini",
    "gemini": "gemini",
    "google": "gemini",
    "vertexai": "gemini",
    "mistral_ai": "mistral",
    "mistralai": "mistral",
    "mistral": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "xai",
    "x_ai": "xai",
    "openrouter": "openrouter",
    "together": "together",
    "fireworks": "fireworks",
}

_OPENINFERENCE_KINDS = {
    "LLM": "llm",
    "TOOL": "tool",
    "RETRIEVER": "retrieval",
    "EMBEDDING": "embedding",
}

_GENAI_OPERATIONS = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "embedding",
    "execute_tool": "tool",
}

# Attributes that are the span's input or output, kept there rather than repeated in metadata.
_CONTENT = re.compile(
    r"^(input\.|output\.|llm\.(input|output)_messages\.|gen_ai\.(prompt|completion)(\.|$)"
    r"|gen_ai\.(input|output)\.messages$|gen_ai\.system_instructions$)"
)
METADATA_VALUE_CHARS = 2000


def first(attrs: dict, *names: str) -> Any:
    for name in names:
        value = attrs.get(name)
        if value not in (None, ""):
            return value
    return None


def count(attrs: dict, *names: str) -> int | None:
    value = first(attrs, *names)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return max(0, int(value))
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    return None


def provider(attrs: dict) -> str | None:
    value = first(attrs, "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
    if not isinstance(value, str):
        return None
    return PROVIDERS.get(value.lower(), value.lower()[:50])


def model(attrs: dict) -> str | None:
    value = first(attrs, "gen_ai.response.model", "llm.model_name", "gen_ai.request.model", "embedding.model_name")
    return value if isinstance(value, str) else None


def span_type(attrs: dict) -> str:
    kind = attrs.get("openinference.span.kind")
    if isinstance(kind, str) and kind.upper() in _OPENINFERENCE_KINDS:
        return _OPENINFERENCE_KINDS[kind.upper()]
    operation = attrs.get("gen_ai.operation.name")
    if isinstance(operation, str) and operation in _GENAI_OPERATIONS:
        return _GENAI_OPERATIONS[operation]
    if first(attrs, "gen_ai.request.model", "llm.model_name"):
        return "llm"
    return "custom"


def usage(attrs: dict) -> dict:
    prompt = count(attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
    completion = count(
        attrs, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"
    )
    total = count(attrs, "llm.token_count.total", "gen_ai.usage.total_tokens")
    if total is None and (prompt is not None or completion is not None):
        total = (prompt or 0) + (completion or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "cache_read_tokens": count(
            attrs, "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
            "llm.token_count.prompt_details.cache_read",
        ) or 0,
        "cache_write_tokens": count(
            attrs, "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens",
            "llm.token_count.prompt_details.cache_write",
        ) or 0,
    }


def user_id(attrs: dict) -> str | None:
    value = first(attrs, "user.id", "enduser.id", "gen_ai.user.id")
    return str(value) if value is not None else None


def session_id(attrs: dict) -> str | None:
    value = first(attrs, "session.id", "gen_ai.conversation.id")
    return str(value) if value is not None else None


def input_of(attrs: dict, events: list[tuple[str, dict]]) -> Any:
    messages = _openinference_messages(attrs, "llm.input_messages")
    if messages:
        return {"messages": messages}
    for name in ("gen_ai.input.messages", "gen_ai.prompt"):
        if name in attrs:
            return _maybe_json(attrs[name])
    flat = _indexed(attrs, "gen_ai.prompt")
    if flat:
        return {"messages": flat}
    from_events = [_event_message(name, body) for name, body in events if name in _INPUT_EVENTS]
    if from_events:
        return {"messages": from_events}
    if "input.value" in attrs:
        return _maybe_json(attrs["input.value"])
    return None


def output_of(attrs: dict, events: list[tuple[str, dict]]) -> Any:
    messages = _openinference_messages(attrs, "llm.output_messages")
    if messages:
        return {"messages": messages}
    for name in ("gen_ai.output.messages", "gen_ai.completion"):
        if name in attrs:
            return _maybe_json(attrs[name])
    flat = _indexed(attrs, "gen_ai.completion")
    if flat:
        return {"messages": flat}
    from_events = [_event_message(name, body) for name, body in events if name in _OUTPUT_EVENTS]
    if from_events:
        return {"messages": from_events}
    if "output.value" in attrs:
        return _maybe_json(attrs["output.value"])
    return None


def metadata_of(attrs: dict) -> dict:
    """Every attribute that is not content, with long values cut (they are for reading, not storage)."""
    kept = {}
    for name, value in attrs.items():
        if _CONTENT.match(name):
            continue
        if isinstance(value, str) and len(value) > METADATA_VALUE_CHARS:
            value = value[:METADATA_VALUE_CHARS] + "…"
        kept[name] = value
    return kept


_INPUT_EVENTS = {"gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message",
                 "gen_ai.content.prompt"}
_OUTPUT_EVENTS = {"gen_ai.choice", "gen_ai.content.completion"}


def _event_message(name: str, body: dict) -> Any:
    if name in ("gen_ai.content.prompt", "gen_ai.content.completion"):
        return _maybe_json(body.get("gen_ai.prompt", body.get("gen_ai.completion")))
    message = {k: _maybe_json(v) for k, v in body.items() if k not in ("gen_ai.system", "gen_ai.provider.name")}
    if name != "gen_ai.choice" and "role" not in message:
        message["role"] = name.split(".")[1]
    return message


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


_INDEXED = re.compile(r"^(?P<prefix>.+?)\.(?P<index>\d+)\.(?P<rest>.+)$")


def _indexed(attrs: dict, prefix: str) -> list[dict]:
    """`prefix.0.role`, `prefix.0.content`, … as [{"role": …, "content": …}, …]."""
    found: dict[int, dict] = {}
    dotted = prefix + "."
    for name, value in attrs.items():
        if not name.startswith(dotted):
            continue
        index, _, rest = name[len(dotted):].partition(".")
        if not index.isdecimal() or not rest:
            continue
        _nest(found.setdefault(int(index), {}), rest, _maybe_json(value))
    return [found[i] for i in sorted(found)]


def _nest(target: dict, dotted: str, value: Any) -> None:
    head, _, rest = dotted.partition(".")
    if not rest:
        target[head] = value
        return
    child = target.setdefault(head, {})
    if isinstance(child, dict):
        _nest(child, rest, value)


def _openinference_messages(attrs: dict, prefix: str) -> list[dict]:
    """OpenInference flattens messages as `llm.input_messages.0.message.role` and so on."""
    messages = []
    for item in _indexed(attrs, prefix):
        message = item.get("message", item)
        if isinstance(message, dict):
            messages.append(_lists(message))
    return messages


def _lists(node: Any) -> Any:
    """{"0": a, "1": b} (what flattening left of a list) back into [a, b]."""
    if not isinstance(node, dict):
        return node
    node = {k: _lists(v) for k, v in node.items()}
    if node and all(k.isdecimal() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node
