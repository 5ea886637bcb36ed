"""Spanlens API keys: sl_live_ + random secret; only a hash and a prefix are kept."""
from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "sl_live_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(raw: str) -> str:
    # The secret has 256 bits of entropy, so a fast hash is safe and keeps lookups cheap.
    return hashlib.sha256(raw.encode()).hexdigest()


def display_prefix(raw: str) -> str:
    return raw[: len(KEY_PREFIX) + 6]
