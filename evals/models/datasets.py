"""Datasets: named collections of test inputs, each item optionally with an expected output."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from spanlens.core.models import Organization, Project

__all__ = ["Dataset", "DatasetItem", "DatasetUpload"]


class Dataset(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="datasets")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="evals_dataset_org_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DatasetItem(models.Model):
    """input is {"variables": {...}} or {"messages": [{role, content}, ...]}."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="items")
    input = models.JSONField()
    expected_output = models.TextField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    source_request_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["dataset", "created_at"], name="evals_item_dataset_created")]


class DatasetUpload(models.Model):
    """An uploaded file between its preview and its import (or abandonment)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="uploads")
    filename = models.CharField(max_length=300)
    format = models.CharField(max_length=10)
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
