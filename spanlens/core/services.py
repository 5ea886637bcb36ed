"""State changes with side effects: create_*, revoke_*, rotate_*. Views call these."""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from spanlens.core import apikeys, audit, crypto
from spanlens.core.models import ApiKey, Membership, Organization, Project, ProviderKey


@dataclass
class CreatedApiKey:
    api_key: ApiKey
    raw_key: str  # shown once, never stored


# actor / ip (optional, keyword-only) are who asked and from where; they go to
# the audit log that every service here writes.

def create_api_key(
    project: Project,
    name: str = "default",
    *,
    scopes: list[str] | None = None,
    expires_at=None,
    allowed_ips: list[str] | None = None,
    actor=None,
    ip: str | None = None,
) -> CreatedApiKey:
    """scopes default to all; allowed_ips are CIDRs already checked by apikeys.parse_allowed_ips."""
    raw = apikeys.generate_key()
    key = ApiKey.objects.create(
        organization_id=project.organization_id,
        project=project,
        name=name,
        prefix=apikeys.display_prefix(raw),
        key_hash=apikeys.hash_key(raw),
        scopes=apikeys.parse_scopes(scopes) if scopes is not None else list(apikeys.SCOPES),
        expires_at=expires_at,
        allowed_ips=list(allowed_ips or []),
    )
    audit.record(project.organization_id, "api_key.create", actor=actor, ip=ip, target=key,
                 details={"project": project.name, "scopes": key.scopes,
                          "expires_at": expires_at.isoformat() if expires_at else None,
                          "allowed_ips": key.allowed_ips})
    return CreatedApiKey(key, raw)


def set_password_login(organization: Organization, *, disabled: bool, actor=None, ip: str | None = None) -> None:
    """Turn password sign-in off (SSO only) or back on for an organization's members."""
    from spanlens.core import sso

    if disabled and not sso.enabled():
        raise ValueError("single sign-on is not configured (OIDC_ISSUER, OIDC_CLIENT_ID): "
                         "turning passwords off would lock everyone out")
    organization.password_login_disabled = disabled
    organization.save(update_fields=["password_login_disabled"])
    audit.record(organization.id, "organization.password_login", actor=actor, ip=ip, target=organization,
                 details={"disabled": disabled})


def revoke_api_key(key: ApiKey, *, actor=None, ip: str | None = None) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit.record(key.organization_id, "api_key.revoke", actor=actor, ip=ip, target=key)
    _forget_cached_keys()


def add_provider_key(
    project: Project,
    provider: str,
    secret: str,
    name: str = "",
    *,
    azure_endpoint: str = "",
    azure_deployment: str = "",
    azure_api_version: str = "",
    base_url: str = "",
    headers: dict[str, str] | None = None,
    price_free: bool = False,
    actor=None,
    ip: str | None = None,
) -> ProviderKey:
    from spanlens.core import endpoints

    if provider not in ProviderKey.Provider.values:
        raise ValueError(f"provider must be one of {', '.join(ProviderKey.Provider.values)}")
    secret = secret.strip()
    # A self-hosted endpoint (Ollama, vLLM without --api-key) may need no key at all.
    if not secret and provider != ProviderKey.Provider.CUSTOM:
        raise ValueError("the provider key is empty")
    base_url = base_url.strip()
    if provider == ProviderKey.Provider.CUSTOM and not base_url:
        raise ValueError("a custom endpoint needs its base URL (e.g. http://10.0.0.5:8000/v1)")
    if base_url:
        if provider not in endpoints.BASE_URL_PROVIDERS:
            raise ValueError(f"a base URL can only be set for {', '.join(sorted(endpoints.BASE_URL_PROVIDERS))}")
        base_url = endpoints.check_base_url(base_url)
    headers = endpoints.check_headers(headers or {})
    if secret and any(name.lower() == "authorization" for name in headers):
        raise ValueError("give the token either as the secret or as an Authorization header, not both")
    key = ProviderKey.objects.create(
        organization_id=project.organization_id,
        project=project,
        provider=provider,
        name=name or f"{provider} key",
        encrypted_secret=crypto.encrypt(secret),
        secret_hint=secret[-4:],
        azure_endpoint=azure_endpoint.rstrip("/"),
        azure_deployment=azure_deployment,
        azure_api_version=azure_api_version,
        base_url=base_url,
        encrypted_headers=crypto.encrypt(json.dumps(headers)) if headers else "",
        price_free=price_free,
    )
    details = {"provider": provider}
    if base_url:
        details["base_url"] = base_url
    if headers:
        details["headers"] = sorted(headers)  # names only: values may be tokens
    audit.record(project.organization_id, "provider_key.create", actor=actor, ip=ip, target=key, details=details)
    _forget_cached_keys()
    return key


def provider_key_headers(key: ProviderKey) -> dict[str, str]:
    """The extra upstream headers of a key, decrypted."""
    if not key.encrypted_headers:
        return {}
    return json.loads(crypto.decrypt(key.encrypted_headers))


def rotate_provider_key(key: ProviderKey, new_secret: str, *, actor=None, ip: str | None = None) -> ProviderKey:
    new_secret = new_secret.strip()
    if not new_secret:
        raise ValueError("the provider key is empty")
    key.encrypted_secret = crypto.encrypt(new_secret)
    key.secret_hint = new_secret[-4:]
    key.save(update_fields=["encrypted_secret", "secret_hint", "updated_at"])
    audit.record(key.organization_id, "provider_key.rotate", actor=actor, ip=ip, target=key)
    _forget_cached_keys()
    return key


def rename_provider_key(key: ProviderKey, name: str, *, actor=None, ip: str | None = None) -> ProviderKey:
    old = key.name
    key.name = name
    key.save(update_fields=["name", "updated_at"])
    audit.record(key.organization_id, "provider_key.rename", actor=actor, ip=ip, target=key,
                 details={"from": old, "to": name})
    _forget_cached_keys()
    return key


def delete_provider_key(key: ProviderKey, *, actor=None, ip: str | None = None) -> None:
    audit.record(key.organization_id, "provider_key.delete", actor=actor, ip=ip, target=key)
    key.delete()
    _forget_cached_keys()


def _forget_cached_keys() -> None:
    # The proxy caches key lookups per process: clear them here and, through
    # Redis when configured, in every other web process too.
    from spanlens.core import invalidation

    invalidation.keys_changed()


@dataclass
class Bootstrap:
    organization: Organization
    project: Project
    username: str
    password: str | None
    raw_api_key: str | None


@transaction.atomic
def create_organization(
    name: str, owner, project_name: str = "Default", *, ip: str | None = None
) -> tuple[Organization, Project]:
    org = Organization.objects.create(name=name)
    Membership.objects.create(user=owner, organization=org, role=Membership.Role.OWNER)
    project = Project.objects.create(organization=org, name=project_name)
    audit.record(org, "organization.create", actor=owner, ip=ip, target=org)
    audit.record(org, "project.create", actor=owner, ip=ip, target=project)
    return org, project


def bootstrap_first_run(username: str = "admin", password: str | None = None) -> Bootstrap | None:
    """On an empty install: an organization, a project, an admin and an API key.

    Returns None when an organization already exists (nothing is printed twice).
    """
    import secrets

    if Organization.objects.exists():
        return None
    User = get_user_model()
    password = password or secrets.token_urlsafe(12)
    with transaction.atomic():
        user = User.objects.create_superuser(username=username, email="", password=password)
        org, project = create_organization("My organization", user)
        created = create_api_key(project, name="default")
    return Bootstrap(org, project, username, password, created.raw_key)


def create_project(organization: Organization, name: str, *, actor=None, ip: str | None = None) -> Project:
    name = name.strip()
    if not name:
        raise ValueError("the project name is empty")
    if Project.objects.filter(organization=organization, name=name).exists():
        raise ValueError(f"a project named {name!r} already exists")
    project = Project.objects.create(organization=organization, name=name)
    audit.record(organization, "project.create", actor=actor, ip=ip, target=project)
    return project


def set_response_cache(project: Project, *, enabled: bool, ttl: str = "", actor=None,
                       ip: str | None = None) -> Project:
    """The project's response-cache switch and default TTL ("1h", "3600", "7d")."""
    from proxy.cache import CacheRequestError, parse_ttl

    try:
        seconds = parse_ttl(ttl) if enabled else 0
    except CacheRequestError:
        raise ValueError("the cache TTL must be between 1 s and 30 d: seconds (3600) or 90s, 15m, 2h, 7d")
    project.response_cache_ttl_s = seconds
    project.save(update_fields=["response_cache_ttl_s"])
    audit.record(project.organization_id, "project.response_cache", actor=actor, ip=ip, target=project,
                 details={"ttl_s": seconds})
    # The proxy caches each key's project settings: every process must see the change.
    _forget_cached_keys()
    return project


def rename_project(project: Project, name: str, *, actor=None, ip: str | None = None) -> Project:
    name = name.strip()
    if not name:
        raise ValueError("the project name is empty")
    if Project.objects.filter(organization_id=project.organization_id, name=name).exclude(id=project.id).exists():
        raise ValueError(f"a project named {name!r} already exists")
    old = project.name
    project.name = name
    project.save(update_fields=["name"])
    audit.record(project.organization_id, "project.rename", actor=actor, ip=ip, target=project,
                 details={"from": old, "to": name})
    # x-spanlens-project may name the project: cached lookups by the old name must go.
    _forget_cached_keys()
    return project
