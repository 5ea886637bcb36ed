"""Spanlens for Python: traces and spans from your app, and provider clients that go
through the Spanlens proxy.

    import spanlens
    client = spanlens.Spanlens()              # SPANLENS_API_KEY, SPANLENS_BASE_URL
    with client.trace(name="support-agent", user_id="u1"):
        ...

This package needs only httpx; the provider SDKs (openai, anthropic, google-genai)
and the framework integrations load when you import their module. The names below
load lazily, so `import spanlens` costs almost nothing.

The Spanlens server, when installed (spanlens-server), adds its own modules to this
package (spanlens.settings, spanlens.core, ...) from another folder: `__path__` is
extended over every `spanlens` folder on sys.path.
"""
from __future__ import annotations

import importlib
from pkgutil import extend_path
from typing import TYPE_CHECKING, Any

__path__ = extend_path(__path__, __name__)

if TYPE_CHECKING:  # what editors and type checkers see; at run time __getattr__ loads them
    from spanlens.prompts import get as get_prompt
    from spanlens.sdk.client import Spanlens, flush, get_client
    from spanlens.sdk.headers import SpanlensHeaders, with_log_body, with_prompt_version, with_session, with_user
    from spanlens.sdk.sampling import Sampling
    from spanlens.sdk.tracing import current_span, current_trace, observe

_EXPORTS = {
    "Spanlens": ("spanlens.sdk.client", "Spanlens"),
    "get_client": ("spanlens.sdk.client", "get_client"),
    "flush": ("spanlens.sdk.client", "flush"),
    "observe": ("spanlens.sdk.tracing", "observe"),
    "current_trace": ("spanlens.sdk.tracing", "current_trace"),
    "current_span": ("spanlens.sdk.tracing", "current_span"),
    "with_user": ("spanlens.sdk.headers", "with_user"),
    "with_session": ("spanlens.sdk.headers", "with_session"),
    "with_prompt_version": ("spanlens.sdk.headers", "with_prompt_version"),
    "with_log_body": ("spanlens.sdk.headers", "with_log_body"),
    "SpanlensHeaders": ("spanlens.sdk.headers", "SpanlensHeaders"),
    "Sampling": ("spanlens.sdk.sampling", "Sampling"),
    "get_prompt": ("spanlens.prompts", "get_prompt"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'spanlens' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    return getattr(importlib.import_module(module), attribute)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
