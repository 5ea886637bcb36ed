"""Saved views of the list pages, and links that share one request or trace."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class SavedView(models.Model):
    """A named filter set of a list page; private to its owner or shared with the organization."""

    class Page(models.TextChoices):
        REQUESTS = "requests", "Requests"
        TRACES = "traces", "Traces"
        USERS = "users", "Users"
        SESSIONS = "sessions", "Sessions"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="saved_views")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    page = models.CharField(max_length=20, choices=Page.choices)
    name = models.CharField(max_length=80)
    # The page's query string, as the filters put it in the URL (no page number).
    query = models.TextField(blank=True, default="")
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "owner", "page", "name"], name="saved_view_name_unique"),
        ]


class DefaultView(models.Model):
    """The view a user's list page opens with, per organization and page."""

    organization = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    page = models.CharField(max_length=20, choices=SavedView.Page.choices)
    view = models.ForeignKey(SavedView, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user", "page"], name="default_view_unique"),
        ]


class Share(models.Model):
    """A read-only link to one request or trace that works signed out.

    Only a SHA-256 of the link's token is kept (the token has 256 bits of entropy), so
    the database alone cannot open a share; the link is shown once, when it is made.
    """

    class Kind(models.TextChoices):
        REQUEST = "request", "Request"
        TRACE = "trace", "Trace"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="shares")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    target_id = models.UUIDField()
    token_hash = models.CharField(max_length=64, unique=True)
    hide_bodies = models.BooleanField(default=True)
    hide_user_ids = models.BooleanField(default=True)
    hide_metadata = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
