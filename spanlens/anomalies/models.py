"""Anomalies the detector opened, and one snapshot per organization and day for the history."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from spanlens.anomalies.metrics import LABELS
from spanlens.core.models import Organization, Project


class Anomaly(models.Model):
    class ScopeKind(models.TextChoices):
        MODEL = "model", "Provider / model"
        PROJECT = "project", "Project"

    class Metric(models.TextChoices):
        P95_LATENCY = "p95_latency_ms", LABELS["p95_latency_ms"]
        COST = "cost_usd", LABELS["cost_usd"]
        ERROR_RATE = "error_rate", LABELS["error_rate"]
        REQUESTS = "requests", LABELS["requests"]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="anomalies")
    scope_kind = models.CharField(max_length=10, choices=ScopeKind.choices)
    # "openai/gpt-4o-2024-08-06" for a model, the project's id for a project.
    scope_key = models.CharField(max_length=300)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    direction = models.CharField(max_length=4, default="up")
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The window when it opened, and the worst it got while open.
    value = models.FloatField()
    expected = models.FloatField()
    scale = models.FloatField()
    score = models.FloatField()
    peak_score = models.FloatField()
    seasonal = models.BooleanField(default=False)
    baseline_hours = models.PositiveSmallIntegerField()
    window_calls = models.FloatField(default=0)
    confidence = models.FloatField()
    factors = models.JSONField(default=list)
    chart = models.JSONField(default=list)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["organization", "resolved_at", "acknowledged_at"])]
        constraints = [
            # One open anomaly per scope and metric: a detector run that sees it again updates it.
            models.UniqueConstraint(fields=["organization", "scope_kind", "scope_key", "metric"],
                                    condition=Q(resolved_at__isnull=True), name="one_open_anomaly_per_scope_metric"),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} {self.direction} on {self.scope_key}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class AnomalySnapshot(models.Model):
    """One organization's anomalies of one UTC day, written by the daily task: the history
    outlives the anomaly rows and costs one row per day to read."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="anomaly_snapshots")
    day = models.DateField()
    opened = models.PositiveIntegerField(default=0)
    open_at_end = models.PositiveIntegerField(default=0)
    by_metric = models.JSONField(default=dict)
    anomalies = models.JSONField(default=list)
    taken_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["organization", "day"], name="one_anomaly_snapshot_per_day")]
