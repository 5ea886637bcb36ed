"""AES-256-GCM for provider keys at rest. The key comes from ENCRYPTION_KEY."""
from __future__ import annotations

import base64
import functools
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings


class EncryptionKeyError(ValueError):
    pass


def decode_key(value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except Exception as exc:  # binascii.Error and friends
        raise EncryptionKeyError("ENCRYPTION_KEY is not valid base64 (openssl rand -base64 32)") from exc
    if len(raw) != 32:
        raise EncryptionKeyError(
            f"ENCRYPTION_KEY decodes to {len(raw)} bytes; it must be exactly 32 (openssl rand -base64 32)"
        )
    return raw


@functools.lru_cache(maxsize=4)
def _cipher(key_b64: str) -> AESGCM:
    return AESGCM(decode_key(key_b64))


def encrypt(plaintext: str) -> str:
    nonce = os.urandom(12)
    sealed = _cipher(settings.ENCRYPTION_KEY).encrypt(nonce, plaintext.encode(), None)
    return base64.b64encode(nonce + sealed).decode()


def decrypt(token: str) -> str:
    blob = base64.b64decode(token)
    return _cipher(settings.ENCRYPTION_KEY).decrypt(blob[:12], blob[12:], None).decode()
