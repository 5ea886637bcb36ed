"""Experiments: a snapshot of items run through N variants (prompt version and / or model,
settings) a number of times, each generation scored by the chosen evaluators, and re-run
on the same snapshot as often as wanted."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from spanlens.core.models import Organization, Project

__all__ = ["Experiment", "ExperimentItem", "ExperimentVariant", "ExperimentRun", "ExperimentResult",
           "ExperimentScore"]

MAX_REPETITIONS = 5


class Experiment(models.Model):
    class Kind(models.TextChoices):
        DATASET = "dataset", "Dataset"
        REPLAY = "replay", "Replay of requests"
        EXTERNAL = "external", "Your own code (SDK)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="experiments")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DATASET)
    dataset = models.ForeignKey("evals.Dataset", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="experiments")
    evaluator_ids = models.JSONField(default=list, blank=True)
    repetitions = models.PositiveSmallIntegerField(default=1)
    baseline_position = models.PositiveSmallIntegerField(default=0)
    # Replay: the filters the requests were chosen by, and the traffic they stand for.
    source = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class ExperimentItem(models.Model):
    """The snapshot: copied from the dataset (or the replayed requests) when the experiment
    is made, so every run of it sees the same inputs."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    dataset_item_id = models.UUIDField(null=True, blank=True)
    source_request_id = models.UUIDField(null=True, blank=True)
    input = models.JSONField(default=dict)
    expected_output = models.TextField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["experiment", "position"], name="evals_expitem_position")]


class ExperimentVariant(models.Model):
    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    prompt_version = models.ForeignKey("evals.PromptVersion", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")
    provider = models.CharField(max_length=20, blank=True)
    model = models.CharField(max_length=200, blank=True)
    settings = models.JSONField(default=dict, blank=True, help_text="temperature, max_tokens")
    # Replay's baseline: the original responses, nothing is generated for it.
    recorded = models.BooleanField(default=False)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["experiment", "position"], name="evals_expvariant_position")]

    def __str__(self) -> str:
        return self.name


class ExperimentRun(models.Model):
    class Status(models.TextChoices):
        # An SDK run whose outputs are still being produced by the caller's code.
        AWAITING = "awaiting", "Waiting for outputs"
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        INTERRUPTED = "interrupted", "Interrupted"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.PENDING, Status.RUNNING, Status.INTERRUPTED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    evaluator_snapshots = models.JSONField(default=list, blank=True)
    seed = models.BigIntegerField(default=0)
    prepared = models.BooleanField(default=False)
    total = models.PositiveIntegerField(default=0)
    stats = models.JSONField(default=dict, blank=True)
    cost_usd = models.DecimalField(max_digits=18, decimal_places=8, default=0)
    error = models.TextField(blank=True)
    lease_token = models.CharField(max_length=40, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    resumes = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["experiment", "number"], name="evals_exprun_number")]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="evals_exprun_status_heartbeat")]

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class ExperimentResult(models.Model):
    """One generation: (run, item, variant, repetition), written as soon as the provider answers."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        ERROR = "error", "Error"

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(ExperimentRun, on_delete=models.CASCADE, related_name="results")
    item = models.ForeignKey(ExperimentItem, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(ExperimentVariant, on_delete=models.CASCADE, related_name="+")
    repetition = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    output = models.TextField(blank=True)
    request_id = models.UUIDField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["item__position", "variant__position", "repetition"]
        constraints = [models.UniqueConstraint(fields=["run", "item", "variant", "repetition"],
                                               name="evals_expresult_unique")]
        indexes = [models.Index(fields=["run", "status"], name="evals_expresult_run_status")]


class ExperimentScore(models.Model):
    """One evaluator's verdict on one generation."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    result = models.ForeignKey(ExperimentResult, on_delete=models.CASCADE, related_name="scores")
    evaluator_id = models.UUIDField()
    status = models.CharField(max_length=20)  # scored | parse_error | error
    score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    reasoning = models.TextField(blank=True)
    error = models.TextField(blank=True)
    cached = models.BooleanField(default=False)
    judge_cost_usd = models.DecimalField(max_digits=18, decimal_places=8, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["result", "evaluator_id"], name="evals_expscore_unique")]
