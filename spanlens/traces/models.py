"""Traces and their spans (the relational half of tracing).

A Trace groups the Spans of one logical interaction. Its aggregates
(span_count, total_tokens, total_cost_usd, duration_ms) are kept current on
every span change: by the `spans_refresh_trace_aggregates` trigger on
PostgreSQL and by services.recompute_trace_aggregates everywhere, so list
pages read one row per trace instead of re-aggregating spans.
"""
from __future__ import annotations

import uuid

from django.db import models


class Trace(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        ERROR = "error", "Error"

    # Ids are chosen by the SDK so spans can name their trace before it arrives.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="traces")
    # Null only for a placeholder created by the proxy link before the SDK sent the trace.
    project = models.ForeignKey(
        "core.Project", on_delete=models.CASCADE, related_name="traces", null=True, blank=True
    )
    name = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    user_id = models.CharField(max_length=200, null=True, blank=True)
    session_id = models.CharField(max_length=200, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    span_count = models.PositiveIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    total_cost_usd = models.DecimalField(max_digits=18, decimal_places=8, default=0)
    duration_ms = models.BigIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-started_at"], name="traces_org_started"),
            models.Index(fields=["organization", "session_id"], name="traces_org_session"),
            models.Index(fields=["organization", "user_id"], name="traces_org_user"),
        ]

    def __str__(self) -> str:
        return self.name or str(self.id)


class Span(models.Model):
    class Type(models.TextChoices):
        LLM = "llm", "LLM"
        TOOL = "tool", "Tool"
        RETRIEVAL = "retrieval", "Retrieval"
        EMBEDDING = "embedding", "Embedding"
        CUSTOM = "custom", "Custom"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        ERROR = "error", "Error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Plain UUIDs, not foreign keys: spans arrive in any order (parallel fan-out
    # closes children before parents), and a database must never reject them for it.
    trace_id = models.UUIDField(db_index=True)
    parent_span_id = models.UUIDField(null=True, blank=True)
    organization = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="spans")
    name = models.CharField(max_length=200, blank=True, default="")
    span_type = models.CharField(max_length=20, choices=Type.choices, default=Type.CUSTOM)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)

    # Set from the proxied call (services.link_request_to_span) for LLM spans.
    request_id = models.UUIDField(null=True, blank=True)
    model = models.CharField(max_length=200, null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "trace_id"], name="spans_org_trace")]

    def __str__(self) -> str:
        return self.name or str(self.id)
