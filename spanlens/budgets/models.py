"""Spend and request-rate limits the proxy enforces before forwarding a call."""
from __future__ import annotations

import uuid
from django.db import models

from spanlens.core.models import ApiKey, Organization, Project


class Budget(models.Model):
    class Scope(models.TextChoices):
        PROJECT = "project", "Project"
        API_KEY = "api_key", "API key"
        USER = "user", "End user"

    class Metric(models.TextChoices):
        USD_DAY = "usd_day", "Dollars per day"
        USD_MONTH = "usd_month", "Dollars per month"
        RPM = "rpm", "Requests per minute"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="budgets")
    scope = models.CharField(max_length=10, choices=Scope.choices)
    # Project budgets name their project; user budgets may narrow to one (empty: every project).
    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="budgets")
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, null=True, blank=True, related_name="budgets")
    # The x-spanlens-user value; empty on a user budget means each end user on their own.
    user_id = models.CharField(max_length=256, blank=True, default="")
    metric = models.CharField(max_length=10, choices=Metric.choices)
    limit = models.DecimalField(max_digits=18, decimal_places=8)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"{self.subject_label}: {self.limit_label}"

    @property
    def is_spend(self) -> bool:
        return self.metric != self.Metric.RPM

    @property
    def subject_label(self) -> str:
        if self.scope == self.Scope.PROJECT:
            return f"Project {self.project.name}"
        if self.scope == self.Scope.API_KEY:
            return f"API key {self.api_key.name} ({self.api_key.prefix}…)"
        who = f"User {self.user_id}" if self.user_id else "Each end user"
        return f"{who} in {self.project.name}" if self.project_id else who

    @property
    def unit_label(self) -> str:
        return {"usd_day": "/ day", "usd_month": "/ month"}.get(self.metric, "requests / minute")

    @property
    def limit_label(self) -> str:
        if self.metric == self.Metric.RPM:
            return f"{int(self.limit)} requests / minute"
        from spanlens.budgets.rules import usd_text

        return f"{usd_text(self.limit)} / {'day' if self.metric == self.Metric.USD_DAY else 'month'}"
