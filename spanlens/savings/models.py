"""The substitute rules: each model's capability tier within its provider.

A model's substitutes are the enabled models of the same provider and kind whose tier is
the same or one step lighter. The table is install-wide, like the price table, curated
in data/tiers.csv and edited in the admin.
"""
from __future__ import annotations

from django.db import models

from spanlens.core.models import ProviderKey


class ModelTier(models.Model):
    class Tier(models.IntegerChoices):
        FRONTIER = 1, "Frontier"
        BALANCED = 2, "Balanced"
        LIGHT = 3, "Light"

    class Kind(models.TextChoices):
        # Reasoning models answer differently enough that only another one replaces them.
        CHAT = "chat", "Chat"
        REASONING = "reasoning", "Reasoning"

    provider = models.CharField(max_length=20, choices=ProviderKey.Provider.choices)
    model = models.CharField(max_length=200, help_text="As in the price table (dated names match their base)")
    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CHAT)
    enabled = models.BooleanField(default=True, help_text="Off: never suggested, and never given substitutes")
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        unique_together = [("provider", "model")]
        ordering = ["provider", "tier", "model"]
        verbose_name = "substitute rule (capability tier)"
        verbose_name_plural = "substitute rules (capability tiers)"

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} ({self.get_tier_display()})"
