"""Relational data: tenants, projects, keys, prices and the request-log fallback queue.

Every tenant-owned row carries organization_id (directly or through project),
and views reach rows only through spanlens.core.access.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Organization(models.Model):
    PLAN_RETENTION_DAYS = {"free": 14, "pro": 90, "team": 365, "enterprise": 365}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    plan = models.CharField(
        max_length=20,
        default="team",
        choices=[(p, p.title()) for p in PLAN_RETENTION_DAYS],
        help_text="Self-hosted installs default to 365-day retention.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    password_login_disabled = models.BooleanField(
        # db_default too: rows written by SQL (Supabase's editor, init.sql users) get it as well.
        default=False, db_default=False, help_text="Members must sign in through SSO; password sign-in is refused."
    )

    def __str__(self) -> str:
        return self.name

    @property
    def retention_days(self) -> int:
        return self.PLAN_RETENTION_DAYS.get(self.plan, 365)


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = [("user", "organization")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def can_write(self) -> bool:
        return self.role != self.Role.VIEWER


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # The response cache for calls of this project that send no x-spanlens-cache header:
    # 0 = off, else on with this TTL in seconds (the header still decides per call).
    response_cache_ttl_s = models.PositiveIntegerField(default=0)

    class Meta:
        unique_together = [("organization", "name")]

    def __str__(self) -> str:
        return self.name


API_KEY_SCOPES = ("proxy", "ingest", "read", "admin")


def all_scopes() -> list[str]:
    return list(API_KEY_SCOPES)


class ApiKey(models.Model):
    """A Spanlens key (sl_live_…). Only a SHA-256 hash and a display prefix are stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, default="default")
    prefix = models.CharField(max_length=24, help_text="First characters, for display only.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(default=all_scopes, help_text="What the key may do: proxy, ingest, read, admin.")
    expires_at = models.DateTimeField(null=True, blank=True)
    allowed_ips = models.JSONField(default=list, blank=True, help_text="CIDRs the key may be used from; empty: any.")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        from django.utils import timezone

        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ProviderKey(models.Model):
    class Provider(models.TextChoices):
        OPENAI = "openai", "OpenAI"
        ANTHROPIC = "anthropic", "Anthropic"
        GEMINI = "gemini", "Gemini"
        AZURE = "azure", "Azure OpenAI"
        MISTRAL = "mistral", "Mistral"
        GROQ = "groq", "Groq"
        DEEPSEEK = "deepseek", "DeepSeek"
        XAI = "xai", "xAI"
        OPENROUTER = "openrouter", "OpenRouter"
        TOGETHER = "together", "Together AI"
        FIREWORKS = "fireworks", "Fireworks AI"
        CUSTOM = "custom", "Custom (OpenAI-compatible)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="provider_keys")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="provider_keys")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    name = models.CharField(max_length=200)
    # AES-256-GCM: nonce (12 bytes) + ciphertext + tag, base64. See spanlens.core.crypto.
    encrypted_secret = models.TextField()
    secret_hint = models.CharField(max_length=16, blank=True, help_text="Last four characters.")
    azure_endpoint = models.CharField(max_length=500, blank=True)
    azure_deployment = models.CharField(max_length=200, blank=True)
    azure_api_version = models.CharField(max_length=40, blank=True)
    # OpenAI-compatible providers: a base URL replacing the provider's own (required
    # for "custom": vLLM, Ollama, LM Studio, TGI), checked by spanlens.core.endpoints.
    base_url = models.CharField(max_length=500, blank=True)
    # Extra headers sent upstream with every call, as encrypted JSON (they may hold tokens).
    encrypted_headers = models.TextField(blank=True)
    price_free = models.BooleanField(
        default=False, help_text="Calls through this key cost nothing when the price table has no price."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"


class ModelPrice(models.Model):
    """USD per 1M tokens. Cache prices are optional (null = the provider has none)."""

    provider = models.CharField(max_length=20, choices=ProviderKey.Provider.choices)
    model = models.CharField(max_length=200)
    mode = models.CharField(max_length=20, default="chat")
    input_per_1m = models.DecimalField(max_digits=14, decimal_places=6)
    output_per_1m = models.DecimalField(max_digits=14, decimal_places=6)
    cache_read_per_1m = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    # The 5-minute cache write (Anthropic bills it at 1.25x input).
    cache_write_per_1m = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    # The 1-hour cache write (2x input at Anthropic); null = same as the 5-minute rate.
    cache_write_1h_per_1m = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        unique_together = [("provider", "model")]
        ordering = ["provider", "model"]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


class RequestFallback(models.Model):
    """A request-log row ClickHouse refused; drain_fallback writes it later."""

    row = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]


class Invitation(models.Model):
    """An email invited into an organization with a role. Only the token's SHA-256 is kept."""

    VALID_DAYS = 7

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    declined_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.organization} ({self.role})"

    @property
    def status(self) -> str:
        from django.utils import timezone

        if self.accepted_at:
            return "accepted"
        if self.declined_at:
            return "declined"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class AuditEvent(models.Model):
    """Who changed what in an organization. Written only by spanlens.core.audit.record."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_events")
    action = models.CharField(max_length=64, help_text="e.g. api_key.create, member.role_change")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too, so the log still names people after their account is gone.
    actor_label = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="core_audit_org_created")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or 'system'}"


class Heartbeat(models.Model):
    """Last sign of life of a background process ("worker", "beat"), read by /health/deep.

    In the database rather than the cache: the default cache is per process,
    and the worker, beat and web are different processes.
    """

    name = models.CharField(max_length=40, primary_key=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"


class UnpricedModel(models.Model):
    """A model an organization's traffic used with no price, as the refresh task last saw it.

    Written only by spanlens.core.prices.refresh_unpriced_models; read by /settings/prices/.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="unpriced_models")
    provider = models.CharField(max_length=20)
    model = models.CharField(max_length=200)
    calls = models.PositiveIntegerField(default=0, help_text="Unpriced calls in the last 30 days.")
    calls_24h = models.PositiveIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        unique_together = [("organization", "provider", "model")]
        ordering = ["-calls", "provider", "model"]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} ({self.calls} unpriced calls)"
