"""Alert rules, the channels they deliver to, what was said (notifications) and each
attempt to say it on one channel (deliveries)."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from spanlens.core.models import ApiKey, Organization, Project


class Channel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        DISCORD = "discord", "Discord"
        WEBHOOK = "webhook", "Webhook"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="alert_channels")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=200)
    # Email: addresses, and whether the organization's owners get it too (read when sending,
    # so a new owner is included without editing the channel).
    email_to = models.JSONField(default=list, blank=True)
    email_owners = models.BooleanField(default=False)
    # Slack / Discord / webhook: the URL is a credential (Slack and Discord put the token in
    # it), so it is stored encrypted like provider keys; only its host is shown.
    encrypted_url = models.TextField(blank=True)
    url_hint = models.CharField(max_length=200, blank=True)
    # Webhook: the HMAC-SHA256 signing secret, encrypted; shown once when made or rotated.
    encrypted_secret = models.TextField(blank=True)
    is_default = models.BooleanField(default=False, help_text="The owners' email every organization starts with.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="alerts_channel_org_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def target_label(self) -> str:
        if self.kind == self.Kind.EMAIL:
            parts = (["the owners"] if self.email_owners else []) + list(self.email_to)
            return ", ".join(parts) or "no recipient"
        return self.url_hint


class AlertRule(models.Model):
    class State(models.TextChoices):
        OK = "ok", "OK"
        PENDING = "pending", "Pending"
        FIRING = "firing", "Firing"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=40, help_text="A key of spanlens.alerts.kinds.KINDS.")
    threshold = models.FloatField(null=True, blank=True)
    # The aggregation window of request-log kinds; how long a gauge must stay over its
    # threshold for the others (the fallback queue).
    window_minutes = models.PositiveIntegerField(default=60)
    # Rate kinds ignore windows with fewer calls: one failure out of two is not an outage.
    min_requests = models.PositiveIntegerField(default=10)
    cooldown_minutes = models.PositiveIntegerField(default=60)
    # What the rule looks at; empty means the whole organization.
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    end_user = models.CharField(max_length=200, blank=True, help_text="An x-spanlens-user value.")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    evaluator = models.ForeignKey("evals.Evaluator", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="+")
    channels = models.ManyToManyField(Channel, blank=True, related_name="rules")
    is_enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    # Evaluation state, written only by spanlens.alerts.evaluation.
    state = models.CharField(max_length=20, choices=State.choices, default=State.OK)
    state_since = models.DateTimeField(null=True, blank=True)
    breach_since = models.DateTimeField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    last_detail = models.TextField(blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # When a firing notification last went out; the cooldown counts from here.
    last_fired_at = models.DateTimeField(null=True, blank=True)
    # Whether this firing episode was announced (a held-back one gets no resolve either).
    notified = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="alerts_rule_org_name")]

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """One thing to tell people: a rule firing or resolving, a test, or an alert another part
    of Spanlens raised (a budget reached). Delivered once per channel."""

    class Event(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"
        ALERT = "alert", "Alert"
        TEST = "test", "Test"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="alert_notifications")
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications")
    event = models.CharField(max_length=20, choices=Event.choices)
    kind = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=300)
    text = models.TextField(blank=True)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    # Label → value pairs shown as fields in Slack, Discord and email.
    fields = models.JSONField(default=list, blank=True)
    url = models.CharField(max_length=500, blank=True)
    key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event}: {self.title}"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        DEAD = "dead", "Dead letter"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="alert_deliveries")
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="alerts_delivery_due"),
            models.Index(fields=["organization", "-created_at"], name="alerts_delivery_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.notification} → {self.channel} ({self.status})"


class AlertKey(models.Model):
    """The cooldown of alerts raised from outside the rules (budgets, anomalies), by key."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    last_fired_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="alerts_key_org_key")]
