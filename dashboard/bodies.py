"""Stored request/response bodies as a conversation the drawer can render.

OpenAI and Anthropic `messages[]`, Anthropic's separate `system`, and Gemini
`contents[].parts[]` all become the same shape: system texts plus
(role, text) messages.
"""
from __future__ import annotations

from typing import Any

import orjson


def load(text: str | None) -> Any:
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def pretty(text: str | None) -> str:
    """Pretty JSON when the body parses, the stored text as-is otherwise."""
    data = load(text)
    if data is None:
        return text or ""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return ""
    kind = part.get("type")
    if isinstance(part.get("text"), str):
        return part["text"]
    if kind in ("image_url", "image", "input_image") or "inline_data" in part or "inlineData" in part:
        return "[image]"
    if kind == "tool_use":
        return f"[tool call {part.get('name', '')}] {orjson.dumps(part.get('input', {})).decode()}"
    if kind == "tool_result":
        return f"[tool result] {_content_text(part.get('content'))}"
    if "functionCall" in part:
        call = part["functionCall"]
        return f"[tool call {call.get('name', '')}] {orjson.dumps(call.get('args', {})).decode()}"
    if "functionResponse" in part:
        return f"[tool result {part['functionResponse'].get('name', '')}]"
    return orjson.dumps(part).decode()


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(t for t in (_part_text(p) for p in content) if t)
    return _part_text(content)


def conversation(provider: str, body: Any) -> dict | None:
    """{'system': [text], 'messages': [{'role', 'text'}]} or None when the shape is unknown."""
    if not isinstance(body, dict):
        return None
    system: list[str] = []
    messages: list[dict] = []
    # Anthropic: system is a string or a list of text blocks, outside messages.
    if "system" in body:
        text = _content_text(body["system"])
        if text:
            system.append(text)
    # Gemini: systemInstruction + contents[].parts[]
    instruction = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(instruction, dict):
        text = _content_text(instruction.get("parts"))
        if text:
            system.append(text)
    if isinstance(body.get("contents"), list):
        for item in body["contents"]:
            if isinstance(item, dict):
                messages.append({"role": item.get("role") or "user", "text": _content_text(item.get("parts"))})
    if isinstance(body.get("messages"), list):
        for item in body["messages"]:
            if not isinstance(item, dict):
                continue
            role = item.get("role") or "user"
            text = _content_text(item.get("content"))
            if item.get("tool_calls"):
                calls = ", ".join((c.get("function") or {}).get("name", "") for c in item["tool_calls"])
                text = (text + "\n" if text else "") + f"[tool calls: {calls}]"
            if role in ("system", "developer"):
                system.append(text)
            else:
                messages.append({"role": role, "text": text})
    # OpenAI Responses API: instructions + input (string or items).
    if isinstance(body.get("instructions"), str):
        system.append(body["instructions"])
    if "input" in body and not messages:
        value = body["input"]
        if isinstance(value, str):
            messages.append({"role": "user", "text": value})
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    messages.append({"role": item.get("role") or "user", "text": _content_text(item.get("content"))})
    if isinstance(body.get("prompt"), str) and not messages:
        messages.append({"role": "user", "text": body["prompt"]})
    if not system and not messages:
        return None
    return {"system": system, "messages": messages}


def response_text(provider: str, data: Any) -> str:
    """The assistant-visible text of a response body."""
    if not isinstance(data, dict):
        return ""
    if isinstance(data.get("choices"), list):
        parts = []
        for choice in data["choices"]:
            message = choice.get("message") or {}
            parts.append(_content_text(message.get("content")) or choice.get("text") or "")
        return "\n".join(p for p in parts if p)
    if isinstance(data.get("content"), list):  # Anthropic
        return _content_text(data["content"])
    if isinstance(data.get("candidates"), list):  # Gemini
        return "\n".join(
            _content_text((c.get("content") or {}).get("parts")) for c in data["candidates"] if isinstance(c, dict)
        )
    if isinstance(data.get("output"), list):  # OpenAI Responses
        return "\n".join(_content_text(item.get("content")) for item in data["output"] if isinstance(item, dict))
    return ""
