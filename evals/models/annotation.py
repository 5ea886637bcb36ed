"""Human annotation: score configs, queues of items to score (from production requests or
an experiment run's results), the lock a reviewer holds while scoring, and the scores."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from spanlens.core.models import Organization

__all__ = ["ScoreConfig", "AnnotationQueue", "AnnotationItem", "Annotation"]


class ScoreConfig(models.Model):
    class Kind(models.TextChoices):
        NUMERIC = "numeric", "Numeric (a range)"
        CATEGORICAL = "categorical", "Categorical (labels)"
        BOOLEAN = "boolean", "Boolean (yes / no)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="score_configs")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    # Categorical labels, worst first: agreement with a 0..1 judge score maps the score onto them in order.
    categories = models.JSONField(default=list, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="evals_scoreconfig_name")]

    def __str__(self) -> str:
        return self.name


class AnnotationQueue(models.Model):
    class Source(models.TextChoices):
        REQUESTS = "requests", "Production requests"
        EXPERIMENT = "experiment", "Experiment results"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="annotation_queues")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    score_config = models.ForeignKey(ScoreConfig, on_delete=models.PROTECT, related_name="queues")
    source = models.CharField(max_length=12, choices=Source.choices)
    filters = models.JSONField(default=dict, blank=True)
    experiment_run = models.ForeignKey("evals.ExperimentRun", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    # The judge whose scores on the same items the human scores are compared with.
    evaluator = models.ForeignKey("evals.Evaluator", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="annotation_queues")
    reviewers_per_item = models.PositiveSmallIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class AnnotationItem(models.Model):
    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    queue = models.ForeignKey(AnnotationQueue, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    request_id = models.UUIDField(null=True, blank=True)
    experiment_result = models.ForeignKey("evals.ExperimentResult", null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="+")
    input = models.JSONField(default=dict)
    output = models.TextField(blank=True)
    # The judge's 0..1 score on this item when the queue was filled (None: not judged).
    judge_score = models.FloatField(null=True, blank=True)
    judge_passed = models.BooleanField(null=True, blank=True)
    annotations_count = models.PositiveSmallIntegerField(default=0)
    locked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["queue", "position"], name="evals_annitem_position")]


class Annotation(models.Model):
    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(AnnotationItem, on_delete=models.CASCADE, related_name="annotations")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    value = models.FloatField(null=True, blank=True)
    label = models.CharField(max_length=100, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "reviewer"], name="evals_annotation_once")]
