"""Stored request/response bodies as a conversation the drawer can render.

OpenAI and Anthropic `messages[]`, Anthropic's separate `system`, and Gemini
`contents[].parts[]` all become the same shape: system texts plus
(role, text, tool calls) messages. A tool call is its name and its arguments
as pretty JSON, whichever provider's shape it came in.
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
    if kind in ("tool_use", "server_tool_use", "function_call") or "functionCall" in part:
        return ""  # shown as a tool call beside the text
    if kind in ("thinking", "redacted_thinking", "reasoning"):
        return ""
    if kind == "tool_result":
        return f"[tool result] {_content_text(part.get('content'))}"
    if kind == "function_call_output":
        return f"[tool result] {_content_text(part.get('output'))}"
    if "functionResponse" in part:
        response = part["functionResponse"]
        return f"[tool result {response.get('name', '')}] {orjson.dumps(response.get('response', {})).decode()}"
    if isinstance(part.get("refusal"), str):
        return f"[refusal] {part['refusal']}"
    return orjson.dumps(part).decode()


def _pretty_arguments(value: Any) -> str:
    """Arguments as indented JSON; OpenAI sends them as a JSON string, which may be cut."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _call(name: Any, arguments: Any) -> dict:
    return {"name": str(name or "?"), "arguments": _pretty_arguments(arguments if arguments is not None else {})}


def tool_calls(item: Any) -> list[dict]:
    """The tool calls in a message, a content list or a Responses output item."""
    calls: list[dict] = []
    if isinstance(item, list):
        for part in item:
            calls += tool_calls(part)
        return calls
    if not isinstance(item, dict):
        return calls
    for call in item.get("tool_calls") or []:  # OpenAI chat message
        if isinstance(call, dict):
            function = call.get("function") or {}
            calls.append(_call(function.get("name"), function.get("arguments")))
    kind = item.get("type")
    if kind in ("tool_use", "server_tool_use"):  # Anthropic content block
        calls.append(_call(item.get("name"), item.get("input")))
    elif kind == "function_call":  # Responses output / input item
        calls.append(_call(item.get("name"), item.get("arguments")))
    if isinstance(item.get("functionCall"), dict):  # Gemini part
        calls.append(_call(item["functionCall"].get("name"), item["functionCall"].get("args")))
    for key in ("content", "parts"):
        if isinstance(item.get(key), list):
            calls += tool_calls(item[key])
    return calls


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
                messages.append(_message(item.get("role") or "user", item.get("parts"), item))
    if isinstance(body.get("messages"), list):
        for item in body["messages"]:
            if not isinstance(item, dict):
                continue
            role = item.get("role") or "user"
            if role in ("system", "developer"):
                system.append(_content_text(item.get("content")))
            else:
                messages.append(_message(role, item.get("content"), item))
    # OpenAI Responses API: instructions + input (string or items).
    if isinstance(body.get("instructions"), str):
        system.append(body["instructions"])
    if "input" in body and not messages:
        value = body["input"]
        if isinstance(value, str):
            messages.append({"role": "user", "text": value})
        elif isinstance(value, list):
            for item in value:
                if not isinstance(item, dict):
                    continue
                if item.get("type") == "function_call":
                    messages.append({"role": "assistant", "text": "", "tool_calls": tool_calls(item)})
                elif item.get("type") == "function_call_output":
                    messages.append({"role": "tool", "text": _content_text(item.get("output")), "tool_calls": []})
                else:
                    messages.append(_message(item.get("role") or "user", item.get("content"), {}))
    if isinstance(body.get("prompt"), str) and not messages:
        messages.append({"role": "user", "text": body["prompt"], "tool_calls": []})
    if not system and not messages:
        return None
    return {"system": system, "messages": messages}


def _message(role: str, content: Any, item: dict) -> dict:
    calls = tool_calls(content) + [c for c in tool_calls({"tool_calls": item.get("tool_calls")})]
    return {"role": role, "text": _content_text(content), "tool_calls": calls}


def response_tool_calls(provider: str, data: Any) -> list[dict]:
    """The tool calls the model made, in any provider's response shape."""
    if not isinstance(data, dict):
        return []
    if isinstance(data.get("choices"), list):
        return tool_calls([c.get("message") for c in data["choices"] if isinstance(c, dict)])
    if isinstance(data.get("content"), list):  # Anthropic
        return tool_calls(data["content"])
    if isinstance(data.get("candidates"), list):  # Gemini
        return tool_calls([c.get("content") for c in data["candidates"] if isinstance(c, dict)])
    if isinstance(data.get("output"), list):  # OpenAI Responses
        return tool_calls(data["output"])
    return []


def response_text(provider: str, data: Any) -> str:
    """The assistant-visible text of a response body."""
    if not isinstance(data, dict):
        return ""
    if isinstance(data.get("choices"), list):
        parts = []
        for choice in data["choices"]:
            if not isinstance(choice, dict):
                continue
            message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
            parts.append(_content_text(message.get("content")) or choice.get("text") or "")
            if isinstance(message.get("refusal"), str) and message["refusal"]:
                parts.append(f"[refusal] {message['refusal']}")
        return "\n".join(p for p in parts if isinstance(p, str) and p)
    if isinstance(data.get("content"), list):  # Anthropic
        return _content_text(data["content"])
    if isinstance(data.get("candidates"), list):  # Gemini
        return "\n".join(
            _content_text((c.get("content") or {}).get("parts")) for c in data["candidates"] if isinstance(c, dict)
        )
    if isinstance(data.get("output"), list):  # OpenAI Responses
        return "\n".join(_content_text(item.get("content")) for item in data["output"] if isinstance(item, dict))
    return ""
