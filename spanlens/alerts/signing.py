"""Outbound webhook signatures: HMAC-SHA256 over "<timestamp>.<body>" with the channel's
secret. The timestamp is signed so a captured request cannot be replayed later."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"
TIMESTAMP_HEADER = "Spanlens-Timestamp"
SIGNATURE_HEADER = "Spanlens-Signature"
DELIVERY_HEADER = "Spanlens-Delivery"
EVENT_HEADER = "Spanlens-Event"
TOLERANCE_S = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def headers(secret: str, body: bytes, *, delivery_id: str, event: str, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        # The same on every retry of one delivery: receivers drop what they already handled.
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: event,
    }


def verify(secret: str, timestamp: str, signature_header: str, body: bytes, *, now: float | None = None,
           tolerance_s: int = TOLERANCE_S) -> bool:
    """What a receiver does (the README shows the same in a few lines)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, ts, body), signature_header or "")
