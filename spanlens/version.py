"""The running version, from the installed package metadata (pyproject.toml)."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("spanlens-server")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0+unknown"
