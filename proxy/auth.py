"""Spanlens key -> tenant and decrypted provider key, cached in-process.

A warm lookup is a dict hit: no hashing of the database, no decryption per
request. Entries live API_KEY_CACHE_TTL_S; changes made through the services
in this process clear the cache at once.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings


@dataclass(frozen=True)
class ResolvedProviderKey:
    id: str
    secret: str
    azure_endpoint: str
    azure_deployment: str
    azure_api_version: str
    base_url: str = ""
    # Extra upstream headers, encoded once here so the hot path only appends them.
    headers: tuple[tuple[bytes, bytes], ...] = ()
    price_free: bool = False


@dataclass(frozen=True)
class Tenant:
    organization_id: str
    project_id: str
    api_key_id: str
    # provider -> key for the project; None when the project has none.
    provider_keys: dict
    # The project's security policy when it is not log-only: (block injection, redact PII).
    security_policy: tuple[bool, bool] | None = None
    scopes: frozenset = frozenset({"proxy", "ingest", "read", "admin"})
    expires_at: float | None = None  # wall-clock epoch seconds
    allowed_networks: tuple = ()  # ipaddress networks; empty: any address
    # The project's response cache for calls without x-spanlens-cache: its TTL, 0 when off.
    cache_ttl_s: int = 0
    # Budgets and rate limits on calls through this key to this project (spanlens.budgets).
    limits: tuple = ()


class AuthError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


_cache: dict[tuple[str, str | None], tuple[float, Tenant | None]] = {}


def clear_cache() -> None:
    _cache.clear()


async def resolve(
    raw_key: str | None, project_override: str | None = None, *, refresh: bool = False, client=None
) -> Tenant:
    """`client` is the ASGI scope's (host, port), checked against the key's IP allow-list."""
    if not raw_key:
        raise AuthError(401, "Missing Spanlens API key: send it where your SDK sends its API key.")
    cache_key = (raw_key, project_override)
    hit = _cache.get(cache_key)
    now = time.monotonic()
    if hit is not None and hit[0] > now and not refresh:
        tenant = hit[1]
    else:
        tenant = await sync_to_async(_load, thread_sensitive=False)(raw_key, project_override)
        _cache[cache_key] = (now + settings.API_KEY_CACHE_TTL_S, tenant)
    if tenant is None:
        raise AuthError(401, "Invalid or revoked Spanlens API key.")
    if "proxy" not in tenant.scopes:
        raise AuthError(403, "This Spanlens API key lacks the 'proxy' scope (call providers through the proxy); "
                             "create a key with it in Settings → API keys.")
    if tenant.expires_at is not None and tenant.expires_at <= time.time():
        raise AuthError(401, "This Spanlens API key has expired; create a new one in Settings → API keys.")
    if tenant.allowed_networks:
        from spanlens.core.apikeys import ip_allowed

        ip = client[0] if client else None
        if not ip_allowed(tenant.allowed_networks, ip):
            raise AuthError(403, f"This Spanlens API key may not be used from {ip or 'an unknown address'} "
                                 "(see its IP allow-list).")
    return tenant


def _load(raw_key: str, project_override: str | None) -> Tenant | None:
    from django.db import connections
    from django.utils import timezone

    from spanlens.core import crypto, services
    from spanlens.core.apikeys import KEY_PREFIX, hash_key, networks
    from spanlens.core.models import ApiKey, Project, ProviderKey

    try:
        if not raw_key.startswith(KEY_PREFIX):
            return None
        key = ApiKey.objects.filter(key_hash=hash_key(raw_key), revoked_at__isnull=True).first()
        if key is None:
            return None
        project_id = key.project_id
        if project_override:
            # x-spanlens-project: another project of the same organization, by id or name.
            projects = Project.objects.filter(organization_id=key.organization_id)
            match = next(
                (p for p in projects if str(p.id) == project_override or p.name == project_override), None
            )
            if match is None:
                raise AuthError(400, f"x-spanlens-project {project_override!r} is not a project of this organization.")
            project_id = match.id
        provider_keys: dict = {}
        for pk in ProviderKey.objects.filter(project_id=project_id, is_active=True).order_by("created_at"):
            # The newest active key of each provider wins.
            provider_keys[pk.provider] = ResolvedProviderKey(
                id=str(pk.id),
                secret=crypto.decrypt(pk.encrypted_secret),
                azure_endpoint=pk.azure_endpoint,
                azure_deployment=pk.azure_deployment,
                azure_api_version=pk.azure_api_version,
                base_url=pk.base_url,
                headers=tuple(
                    (name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in services.provider_key_headers(pk).items()
                ),
                price_free=pk.price_free,
            )
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        from spanlens.security.models import SecurityPolicy

        policy = SecurityPolicy.objects.filter(project_id=project_id).first()
        cache_ttl_s = Project.objects.filter(id=project_id).values_list("response_cache_ttl_s", flat=True).first() or 0
        enforced = (policy.injection == "block", policy.pii == "redact") if policy and policy.enforcing else None
        from spanlens.budgets import enforce, rules

        limits = rules.rules_for(str(key.organization_id), str(project_id), str(key.id))
        enforce.seed(limits)
        return Tenant(
            str(key.organization_id), str(project_id), str(key.id), provider_keys,
            security_policy=enforced,
            scopes=frozenset(key.scopes or ()),
            expires_at=key.expires_at.timestamp() if key.expires_at else None,
            allowed_networks=networks(key.allowed_ips),
            cache_ttl_s=cache_ttl_s,
            limits=limits,
        )
    finally:
        # Runs in a pool thread: a lookup is rare (cached), so don't hold a connection.
        connections.close_all()
