"""Token counts we estimate ourselves, for streams that ended before the provider's usage.

The BPE tables ship inside the bpe-openai package, so counting works on an offline
install (tiktoken would download its tables on first use). OpenAI models get their own
encoding; other families have no public offline tokenizer, so o200k_base stands in,
which is close enough for an estimate and is marked as one on the row.
Runs in the writer thread only: the first use loads the tables (about a second).
"""
from __future__ import annotations

import functools
import threading

import orjson

# Older OpenAI models use cl100k_base; everything from gpt-4o on uses o200k_base.
_CL100K_PREFIXES = ("gpt-3.5", "gpt-35", "gpt-4", "text-embedding", "ft:gpt-3.5", "ft:gpt-4-")
_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-6", "o1", "o3", "o4", "ft:gpt-4o", "ft:gpt-4.1",
                   "chatgpt", "codex", "computer-use")
# Keys of a request body whose text the model reads.
_PROMPT_KEYS = ("messages", "system", "contents", "systemInstruction", "system_instruction", "input",
                "instructions", "prompt", "tools")
# Per-message framing tokens in OpenAI's chat format (role markers), and the reply's start.
_PER_MESSAGE = 3
_REPLY_PRIMING = 3

_lock = threading.Lock()


@functools.lru_cache(maxsize=2)
def _encoding(name: str):
    import bpe_openai

    with _lock:
        return bpe_openai.get_encoding(name)


def encoding_name(model: str | None) -> str:
    name = (model or "").lower()
    if name.startswith(_O200K_PREFIXES):
        return "o200k_base"
    if name.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return "o200k_base"


def count(text: str, model: str | None) -> int:
    if not text:
        return 0
    return len(_encoding(encoding_name(model)).encode(text, disallowed_special=()))


def prompt_tokens(request_body: bytes, model: str | None) -> int:
    """Tokens of what the model read: message texts, system text, tool definitions."""
    try:
        body = orjson.loads(request_body) if request_body else None
    except orjson.JSONDecodeError:
        return 0
    if not isinstance(body, dict):
        return 0
    texts: list[str] = []
    for key in _PROMPT_KEYS:
        if key in body:
            value = body[key]
            # Tool schemas reach the model as JSON text; everything else as its strings.
            if key == "tools":
                texts.append(orjson.dumps(value).decode())
            else:
                _strings(value, texts)
    messages = body.get("messages") or body.get("contents") or []
    framing = _PER_MESSAGE * len(messages) + _REPLY_PRIMING if isinstance(messages, list) else 0
    return count("\n".join(texts), model) + framing


def _strings(value, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)
    elif isinstance(value, dict):
        for key, item in value.items():
            # Images and audio are not text; their token cost is not estimated.
            if key in ("image_url", "inline_data", "inlineData", "source", "data", "file_data", "fileData"):
                continue
            _strings(item, out)
