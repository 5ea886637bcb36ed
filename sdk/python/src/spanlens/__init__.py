"""Spanlens: the server (settings, ASGI entry, shared core) and the Python SDK.

Nothing here imports Django, so apps can `import spanlens` / `spanlens.openai`
without it. The SDK names below load lazily, so the server does not pay for them.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Spanlens": "spanlens.sdk.client",
    "get_client": "spanlens.sdk.client",
    "flush": "spanlens.sdk.client",
    "observe": "spanlens.sdk.tracing",
    "current_trace": "spanlens.sdk.tracing",
    "current_span": "spanlens.sdk.tracing",
    "with_user": "spanlens.sdk.headers",
    "with_session": "spanlens.sdk.headers",
    "with_prompt_version": "spanlens.sdk.headers",
    "with_log_body": "spanlens.sdk.headers",
    "SpanlensHeaders": "spanlens.sdk.headers",
    "Sampling": "spanlens.sdk.sampling",
    "get_prompt": "spanlens.prompts",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'spanlens' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
