"""What a project does with the findings in its calls: log them (the default), block, or redact."""
from __future__ import annotations

from django.db import models

from spanlens.core.models import Project


class SecurityPolicy(models.Model):
    class Injection(models.TextChoices):
        LOG = "log", "Log only"
        BLOCK = "block", "Block with a 422"

    class Pii(models.TextChoices):
        LOG = "log", "Log only"
        REDACT = "redact", "Redact before forwarding"

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True,
                                   related_name="security_policy")
    injection = models.CharField(max_length=10, choices=Injection.choices, default=Injection.LOG)
    pii = models.CharField(max_length=10, choices=Pii.choices, default=Pii.LOG)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.project}: injection {self.injection}, PII {self.pii}"

    @property
    def enforcing(self) -> bool:
        return self.injection != self.Injection.LOG or self.pii != self.Pii.LOG
