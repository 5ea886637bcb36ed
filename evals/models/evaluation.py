"""Evaluation: evaluators, their runs, one result per sample, and the judge's verdict cache."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from spanlens.core.models import Organization, Project

__all__ = ["Evaluator", "EvalRun", "EvalResult", "JudgeVerdict"]


class Evaluator(models.Model):
    class Type(models.TextChoices):
        LLM_JUDGE = "llm_judge", "LLM judge"
        EXACT_MATCH = "exact_match", "Exact match"
        CONTAINS = "contains", "Contains"
        REGEX = "regex", "Regex"
        JSON_SCHEMA = "json_schema", "JSON schema"
        SIMILARITY = "similarity", "Similarity"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="evaluators")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                help_text="Whose provider key pays for judge calls (else any of the organization).")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=Type.choices)
    # llm_judge: criterion, rubric, judge_provider, judge_model, scale_min, scale_max, fields;
    # deterministic types: their own small settings (see evals.scorers).
    config = models.JSONField(default=dict)
    pass_threshold = models.FloatField(null=True, blank=True, help_text="0..1; a sample at or above it passes.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="evals_evaluator_org_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_judge(self) -> bool:
        return self.type == self.Type.LLM_JUDGE


class EvalRun(models.Model):
    class Source(models.TextChoices):
        PRODUCTION = "production", "Production requests"
        DATASET = "dataset", "Dataset"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        INTERRUPTED = "interrupted", "Interrupted"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.PENDING, Status.RUNNING, Status.INTERRUPTED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="eval_runs")
    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="runs")
    # The evaluator as it was when the run started: later edits do not change old results.
    evaluator_snapshot = models.JSONField(default=dict)
    source = models.CharField(max_length=20, choices=Source.choices)
    dataset = models.ForeignKey("evals.Dataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    filters = models.JSONField(default=dict, blank=True)
    sample_size = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    prepared = models.BooleanField(default=False, help_text="Samples drawn and snapshotted.")
    total = models.PositiveIntegerField(default=0)
    avg_score = models.FloatField(null=True, blank=True)
    stats = models.JSONField(default=dict, blank=True)
    estimate_usd = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    judge_tokens = models.PositiveBigIntegerField(default=0)
    judge_cost_usd = models.DecimalField(max_digits=18, decimal_places=8, default=0)
    error = models.TextField(blank=True)
    # Who works on the run now: a task claims it with a fresh token and keeps the heartbeat fresh.
    lease_token = models.CharField(max_length=40, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    resumes = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="evals_run_status_heartbeat")]

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class EvalResult(models.Model):
    """One sample of a run: what was scored (snapshotted) and its verdict, written as it completes."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SCORED = "scored", "Scored"
        PARSE_ERROR = "parse_error", "Unreadable verdict"
        ERROR = "error", "Error"

    FAILED = (Status.PARSE_ERROR, Status.ERROR)

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="results")
    position = models.PositiveIntegerField()
    sample_key = models.CharField(max_length=64, help_text="The request id or the dataset item id.")
    request_id = models.UUIDField(null=True, blank=True)
    dataset_item = models.ForeignKey("evals.DatasetItem", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    input = models.JSONField(default=dict)
    output = models.TextField(blank=True)
    expected_output = models.TextField(null=True, blank=True)
    context = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    score = models.FloatField(null=True, blank=True, help_text="0..1")
    raw_score = models.FloatField(null=True, blank=True, help_text="On the evaluator's own scale.")
    passed = models.BooleanField(null=True, blank=True)
    reasoning = models.TextField(blank=True)
    error = models.TextField(blank=True)
    cached = models.BooleanField(default=False)
    judge_tokens = models.PositiveIntegerField(default=0)
    judge_cost_usd = models.DecimalField(max_digits=18, decimal_places=8, default=0)
    judge_request_ids = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "sample_key"], name="evals_result_run_sample"),
            models.CheckConstraint(
                condition=~(models.Q(request_id__isnull=False) & models.Q(dataset_item__isnull=False)),
                name="evals_result_one_source",
            ),
        ]
        indexes = [models.Index(fields=["run", "status"], name="evals_result_run_status")]


class JudgeVerdict(models.Model):
    """A judge's verdict, keyed by (evaluator config, input, output, expected): never paid twice."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    raw_score = models.FloatField()
    score = models.FloatField()
    reasoning = models.TextField(blank=True)
    judge_tokens = models.PositiveIntegerField(default=0)
    judge_cost_usd = models.DecimalField(max_digits=18, decimal_places=8, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="evals_verdict_org_key")]
