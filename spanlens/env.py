"""Small typed readers for environment variables (used by settings only)."""
from __future__ import annotations

import os
import sys

# `manage.py check_env` reports malformed numbers itself (all of them at once),
# so while it runs settings fall back to the default instead of stopping.
_CHECKING_ENV = sys.argv[1:2] == ["check_env"]


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the message says how to fix it."""


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError as exc:
        if _CHECKING_ENV:
            return default
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from exc


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return float(value)
    except ValueError as exc:
        if _CHECKING_ENV:
            return default
        raise ConfigError(f"{name} must be a number, got {value!r}") from exc
