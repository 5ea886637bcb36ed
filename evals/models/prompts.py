"""Prompts: a name, its immutable versions, movable labels with their history,
and served A/B experiments between two versions.

A version's id is derived from (organization, name, number) — the same uuid5
the proxy has always recorded for `x-spanlens-prompt-version: name@3` — so calls
logged before a version existed link to it the moment it is created.
Versions are never edited: only `archived_at` may change after creation.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

__all__ = [
    "ImmutableVersionError", "Prompt", "PromptExperiment", "PromptLabel", "PromptLabelMove", "PromptVersion",
]

# Only these fields may change on a saved version (archiving); everything else is its content.
_VERSION_MUTABLE = frozenset({"archived_at"})


class ImmutableVersionError(Exception):
    """Raised on any attempt to change a saved prompt version's content."""


class Prompt(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="prompts")
    project = models.ForeignKey("core.Project", on_delete=models.CASCADE, related_name="prompts")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="prompts_unique_org_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class VersionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        # Bulk updates skip save(); hold them to the same rule.
        if set(kwargs) - _VERSION_MUTABLE:
            raise ImmutableVersionError("prompt versions are immutable; create a new version instead")
        return super().update(**kwargs)


class PromptVersion(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        CHAT = "chat", "Chat"

    id = models.UUIDField(primary_key=True, editable=False)
    organization = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="prompt_versions")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    template = models.TextField(blank=True, default="", help_text="The text template (kind text).")
    messages = models.JSONField(default=list, blank=True, help_text="[{role, content}] (kind chat).")
    variables = models.JSONField(default=list, blank=True, help_text="[{name, description, required}]")
    model_config = models.JSONField(default=dict, blank=True, help_text="provider, model, temperature, max_tokens…")
    commit_note = models.CharField(max_length=500, blank=True, default="")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = VersionQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prompt", "version"], name="prompt_versions_unique_number")]
        ordering = ["prompt", "-version"]

    def __str__(self) -> str:
        return self.ref

    def save(self, *args, **kwargs):
        if not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if update_fields is None or set(update_fields) - _VERSION_MUTABLE:
                raise ImmutableVersionError("prompt versions are immutable; create a new version instead")
        super().save(*args, **kwargs)

    @property
    def ref(self) -> str:
        return f"{self.prompt.name}@{self.version}"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class PromptLabel(models.Model):
    """A movable name (production, staging, …) pointing at one version of a prompt."""

    organization = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="+")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=64)
    version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="labels")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prompt", "name"], name="prompt_labels_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.prompt.name}@{self.name}"


class PromptLabelMove(models.Model):
    """One move of a label, append-only: who, when, from which version to which."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="+")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="label_moves")
    label = models.CharField(max_length=64)
    from_version = models.ForeignKey(
        PromptVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="+")
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    moved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-moved_at", "-id"]


class PromptExperiment(models.Model):
    """A served A/B test: while it runs, fetching the prompt by `label` returns arm A or B."""

    class AssignmentKey(models.TextChoices):
        USER_ID = "user_id", "User id"
        SESSION_ID = "session_id", "Session id"
        TRACE_ID = "trace_id", "Trace id"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="+")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=200, blank=True, default="")
    label = models.CharField(max_length=64, default="production")
    arm_a = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="+")
    arm_b = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="+")
    split_b = models.PositiveSmallIntegerField(default=50, help_text="Percent of assignment keys sent to arm B.")
    assignment_key = models.CharField(max_length=20, choices=AssignmentKey.choices, default=AssignmentKey.USER_ID)
    started_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return self.name or f"{self.prompt.name}: {self.arm_a.version} vs {self.arm_b.version}"

    def is_running(self, now=None) -> bool:
        now = now or timezone.now()
        return self.stopped_at is None and self.started_at <= now and (self.ends_at is None or self.ends_at > now)

    @property
    def ended_at(self):
        """When traffic stopped counting: the stop, or the end date once it has passed."""
        if self.stopped_at is not None:
            return self.stopped_at
        if self.ends_at is not None and self.ends_at <= timezone.now():
            return self.ends_at
        return None
