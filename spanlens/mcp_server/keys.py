"""Which organization an MCP caller reads: a Spanlens API key with the read scope.

Apart from the server so the HTTP front door can refuse a caller without loading the MCP SDK.
"""
from __future__ import annotations

from spanlens.core import apikeys
from spanlens.core.access import Access, access_for_api_key


class KeyRefused(Exception):
    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


def access_for_key(raw: str | None, client_ip: str | None = None) -> Access:
    """The organization a key reads, or KeyRefused saying why not (missing, revoked, expired, IP, scope)."""
    if not raw:
        raise KeyRefused("send a Spanlens API key: Authorization: Bearer sl_live_… (or SPANLENS_API_KEY for stdio)")
    access = access_for_api_key(raw)
    if access is None:
        raise KeyRefused("invalid or revoked API key")
    key = access.api_key
    if key.is_expired:
        raise KeyRefused(apikeys.expired_message())
    if client_ip is not None and not apikeys.ip_allowed(apikeys.networks(key.allowed_ips), client_ip):
        raise KeyRefused(apikeys.ip_refused_message(client_ip), 403)
    if "read" not in (key.scopes or ()):
        raise KeyRefused(apikeys.missing_scope_message("read"), 403)
    return access


def bearer(headers) -> str | None:
    value = (headers or {}).get("authorization", "")
    return value[7:].strip() if value[:7].lower() == "bearer " else None
