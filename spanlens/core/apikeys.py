"""Spanlens API keys: sl_live_ + random secret; only a hash and a prefix are kept."""
from __future__ import annotations

import hashlib
import ipaddress
import secrets

KEY_PREFIX = "sl_live_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(raw: str) -> str:
    # The secret has 256 bits of entropy, so a fast hash is safe and keeps lookups cheap.
    return hashlib.sha256(raw.encode()).hexdigest()


def display_prefix(raw: str) -> str:
    return raw[: len(KEY_PREFIX) + 6]


# --- scopes, expiry, IP allow-list ----------------------------------------------

SCOPES = ("proxy", "ingest", "read", "admin")
SCOPE_HELP = {
    "proxy": "call providers through the proxy",
    "ingest": "send traces and spans",
    "read": "use the REST API under /api/v1",
    "admin": "keys and members APIs",
}

# REST paths written to by instrumented code; the rest of /api/v1 is `read`.
_INGEST_PATHS = ("/api/v1/ingest", "/api/v1/traces", "/api/v1/spans", "/v1/traces")
_ADMIN_PREFIXES = ("/api/v1/members", "/api/v1/invitations", "/api/v1/api-keys")


class KeyInputError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def parse_scopes(values) -> list[str]:
    chosen = [v.strip() for v in values if v and v.strip()]
    unknown = [v for v in chosen if v not in SCOPES]
    if unknown:
        raise KeyInputError("scopes", f"unknown scope {unknown[0]!r}: choose from {', '.join(SCOPES)}")
    if not chosen:
        raise KeyInputError("scopes", "choose at least one scope")
    return [s for s in SCOPES if s in chosen]


def parse_allowed_ips(text: str) -> list[str]:
    """Comma-, space- or line-separated IPs/CIDRs, normalised (10.0.0.7/8 -> 10.0.0.0/8)."""
    out: list[str] = []
    for part in text.replace(",", " ").split():
        try:
            out.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise KeyInputError("allowed_ips", f"{part!r} is not an IP address or CIDR range")
    return out


def networks(allowed: list[str]) -> tuple:
    return tuple(ipaddress.ip_network(c, strict=False) for c in allowed or ())


def ip_allowed(nets: tuple, ip: str | None) -> bool:
    if not nets:
        return True
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr.version == n.version and addr in n for n in nets)


def rest_scope(method: str, path: str) -> str:
    """The scope a key needs for a REST call."""
    if path.startswith(_ADMIN_PREFIXES):
        return "admin"
    if path == "/api/v1/ingest" or (method == "POST" and path.rstrip("/") in _INGEST_PATHS):
        return "ingest"
    return "read"


def missing_scope_message(scope: str) -> str:
    return f"this API key lacks the {scope!r} scope ({SCOPE_HELP[scope]}); create a key with it in Settings → API keys"


def expired_message() -> str:
    return "this API key has expired; create a new one in Settings → API keys"


def ip_refused_message(ip: str | None) -> str:
    return f"this API key may not be used from {ip or 'an unknown address'} (see its IP allow-list)"
