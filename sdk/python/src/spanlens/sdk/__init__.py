"""The Spanlens Python SDK: traces and spans sent in the background, and per-call
headers for the provider clients in spanlens.openai / spanlens.anthropic.

Runtime dependencies: httpx, plus whichever provider SDK the app already uses.
This package never imports Django.
"""
from spanlens.sdk.client import Spanlens, flush, get_client
from spanlens.sdk.headers import SpanlensHeaders, with_log_body, with_prompt_version, with_session, with_user
from spanlens.sdk.sampling import Sampling
from spanlens.sdk.tracing import current_span, current_trace, observe

__all__ = [
    "Sampling", "Spanlens", "SpanlensHeaders", "current_span", "current_trace", "flush", "get_client",
    "observe", "with_log_body", "with_prompt_version", "with_session", "with_user",
]
