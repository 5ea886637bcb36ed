"""Every write to experiments: create one (snapshotting its dataset), start a run or a
re-run on the same snapshot, resume runs whose worker went away."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from evals import eval_services, prompt_resolve
from evals.models import (Experiment, ExperimentItem, ExperimentResult, ExperimentRun, ExperimentVariant,
                          PromptVersion)
from evals.models.experiments import MAX_REPETITIONS
from evals.prompt_playground import PROVIDERS

MAX_VARIANTS = 6
MAX_ITEMS = 1000


class ExperimentError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def find_prompt_version(organization, ref, field: str) -> PromptVersion:
    """`name@3`, `name@production`, `name@latest` or a version id."""
    ref = str(ref or "").strip()
    version_id = prompt_resolve.resolve(ref, organization.id) if ref else None
    version = None
    if version_id:
        version = PromptVersion.objects.filter(organization=organization, id=version_id).select_related(
            "prompt").first()
    if version is None:
        raise ExperimentError(field, f"no prompt version {ref!r} in this organization (use name@3, name@label "
                                     "or a version id)")
    return version


def _number(value, field: str, low: float, high: float, kind=float):
    if value in (None, ""):
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ExperimentError(field, f"must be a number from {low:g} to {high:g}") from None
    if not low <= number <= high:
        raise ExperimentError(field, f"must be from {low:g} to {high:g}")
    return number


def clean_variants(organization, data, minimum: int = 2) -> list[dict]:
    if not isinstance(data, list) or len(data) < minimum:
        raise ExperimentError("variants", "give at least two variants (a baseline and a candidate)")
    if len(data) > MAX_VARIANTS:
        raise ExperimentError("variants", f"at most {MAX_VARIANTS}")
    cleaned, names = [], set()
    for i, spec in enumerate(data):
        where = f"variants[{i}]"
        if not isinstance(spec, dict):
            raise ExperimentError(where, "must be an object")
        version = None
        if spec.get("prompt_version"):
            version = find_prompt_version(organization, spec["prompt_version"], f"{where}.prompt_version")
        provider = str(spec.get("provider") or "").strip()
        if provider and provider not in PROVIDERS:
            raise ExperimentError(f"{where}.provider", f"must be one of {', '.join(PROVIDERS)}")
        model = str(spec.get("model") or "").strip()[:200]
        if version is None and not model and not spec.get("recorded"):
            raise ExperimentError(where, "give a prompt_version, a model, or both")
        if model and not provider and not (version and version.model_config.get("provider")):
            provider = "openai"
        settings_ = {}
        temperature = _number(spec.get("temperature"), f"{where}.temperature", 0, 2)
        if temperature is not None:
            settings_["temperature"] = temperature
        max_tokens = _number(spec.get("max_tokens"), f"{where}.max_tokens", 1, 100_000, int)
        if max_tokens is not None:
            settings_["max_tokens"] = max_tokens
        name = str(spec.get("name") or "").strip()[:200]
        if not name:
            name = " · ".join(x for x in (f"{version.prompt.name}@{version.version}" if version else "",
                                          model) if x) or f"variant {i + 1}"
        if name in names:
            name = f"{name} ({i + 1})"
        names.add(name)
        cleaned.append({"name": name, "prompt_version": version, "provider": provider, "model": model,
                        "settings": settings_, "recorded": bool(spec.get("recorded"))})
    return cleaned


def create_experiment(organization, *, name, dataset, variants, evaluators=(), repetitions=1, baseline=0,
                      project=None, user=None) -> Experiment:
    name = str(name or "").strip()
    if not name:
        raise ExperimentError("name", "is required")
    dataset = eval_services.find_dataset(organization, dataset) if not hasattr(dataset, "pk") else dataset
    if dataset.organization_id != organization.id:
        raise ExperimentError("dataset", "no such dataset in this organization")
    items = list(dataset.items.order_by("created_at", "id")[:MAX_ITEMS + 1])
    if not items:
        raise ExperimentError("dataset", "this dataset has no items")
    if len(items) > MAX_ITEMS:
        raise ExperimentError("dataset", f"an experiment takes at most {MAX_ITEMS} items")
    snapshot = [ExperimentItem(organization=organization, position=i, dataset_item_id=item.id,
                               source_request_id=item.source_request_id, input=item.input,
                               expected_output=item.expected_output, metadata=item.metadata or {})
                for i, item in enumerate(items)]
    return _create(organization, name=name, kind=Experiment.Kind.DATASET, dataset=dataset, items=snapshot,
                   variants=variants, evaluators=evaluators, repetitions=repetitions, baseline=baseline,
                   project=project or dataset.project, user=user)


def _create(organization, *, name, kind, dataset, items, variants, evaluators, repetitions, baseline, project,
            user, source=None, minimum_variants: int = 2) -> Experiment:
    cleaned = clean_variants(organization, variants, minimum_variants)
    reps = _number(repetitions if repetitions not in (None, "") else 1, "repetitions", 1, MAX_REPETITIONS, int)
    base = _number(baseline if baseline not in (None, "") else 0, "baseline", 0, len(cleaned) - 1, int)
    if not isinstance(evaluators, (list, tuple)):
        raise ExperimentError("evaluators", "must be a list of evaluator names or ids")
    found = []
    for i, ref in enumerate(evaluators):
        try:
            found.append(eval_services.find_evaluator(organization, ref))
        except eval_services.EvalError:
            raise ExperimentError(f"evaluators[{i}]", "no such evaluator in this organization") from None
    with transaction.atomic():
        experiment = Experiment.objects.create(
            organization=organization, project=project, name=name, kind=kind, dataset=dataset,
            evaluator_ids=[str(e.id) for e in found], repetitions=reps, baseline_position=base,
            created_by=user, source=source or {})
        for item in items:
            item.experiment = experiment
        ExperimentItem.objects.bulk_create(items, batch_size=500)
        ExperimentVariant.objects.bulk_create([
            ExperimentVariant(organization=organization, experiment=experiment, position=i, **spec)
            for i, spec in enumerate(cleaned)])
    return experiment


def start_run(experiment: Experiment, *, user=None, awaiting: bool = False) -> ExperimentRun:
    """A run (or a re-run) over the experiment's snapshot; evaluators as they are now."""
    from evals.models import Evaluator

    evaluators = list(Evaluator.objects.filter(organization_id=experiment.organization_id,
                                               id__in=experiment.evaluator_ids))
    snapshots = [eval_services.snapshot(e) for e in evaluators]
    for _ in range(3):
        number = (experiment.runs.aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                run = ExperimentRun.objects.create(
                    organization_id=experiment.organization_id, experiment=experiment, number=number,
                    evaluator_snapshots=snapshots, seed=random.randrange(2**31), created_by=user,
                    status=ExperimentRun.Status.AWAITING if awaiting else ExperimentRun.Status.PENDING)
                if not awaiting:
                    transaction.on_commit(lambda: enqueue(run.id))
            return run
        except IntegrityError:
            continue  # two starts at once took the same number
    raise ExperimentError("experiment", "could not start a run; try again")


def enqueue(run_id) -> None:
    from spanlens.celery_app import app

    app.send_task("evals.tasks.run_experiment", args=[str(run_id)])


def resume_stale_runs(stale_after_s: float | None = None) -> list[str]:
    stale_after_s = settings.EVAL_STALE_AFTER_S if stale_after_s is None else stale_after_s
    cutoff = timezone.now() - timedelta(seconds=stale_after_s)
    stale = ExperimentRun.objects.filter(
        Q(status__in=ExperimentRun.ACTIVE, heartbeat_at__lt=cutoff)
        | Q(status__in=ExperimentRun.ACTIVE, heartbeat_at__isnull=True, created_at__lt=cutoff))
    ids = []
    for run in stale:
        if ExperimentRun.objects.filter(id=run.id, status=run.status, heartbeat_at=run.heartbeat_at).update(
                status=ExperimentRun.Status.INTERRUPTED, resumes=run.resumes + 1, heartbeat_at=timezone.now()):
            ids.append(str(run.id))
            enqueue(run.id)
    return ids


def find_experiment(organization, ref) -> Experiment | None:
    try:
        return Experiment.objects.filter(organization=organization, id=uuid.UUID(str(ref))).first()
    except ValueError:
        return None


def delete_experiment(experiment: Experiment) -> None:
    experiment.delete()


# --- runs whose outputs come from the caller's own code (the SDK) ----------------------------

def open_external_run(organization, *, name, dataset, variants, evaluators=(), baseline=None, user=None
                      ) -> ExperimentRun:
    """An experiment of recorded variants (created on first use, its snapshot kept after),
    and a run laid out and waiting for the outputs the caller's code produces."""
    from evals import experiment_runner

    if not isinstance(variants, list) or not variants or not all(isinstance(v, str) and v.strip() for v in variants):
        raise ExperimentError("variants", "must be a non-empty list of variant names")
    names = [v.strip()[:200] for v in variants]
    if len(set(names)) != len(names) or len(names) > MAX_VARIANTS:
        raise ExperimentError("variants", f"names must be distinct, at most {MAX_VARIANTS}")
    base = names.index(baseline) if baseline in names else 0
    if baseline not in (None, "") and baseline not in names:
        raise ExperimentError("baseline", "must be one of the variant names")
    name = str(name or "").strip()
    if not name:
        raise ExperimentError("name", "is required")
    experiment = Experiment.objects.filter(organization=organization, kind=Experiment.Kind.EXTERNAL,
                                           name=name).first()
    if experiment is None:
        dataset_obj = eval_services.find_dataset(organization, dataset)
        specs = [{"name": n, "recorded": True} for n in names]
        items = list(dataset_obj.items.order_by("created_at", "id")[:MAX_ITEMS])
        if not items:
            raise ExperimentError("dataset", "this dataset has no items")
        experiment = _create(
            organization, name=name, kind=Experiment.Kind.EXTERNAL, dataset=dataset_obj,
            items=[ExperimentItem(organization=organization, position=i, dataset_item_id=it.id,
                                  source_request_id=it.source_request_id, input=it.input,
                                  expected_output=it.expected_output, metadata=it.metadata or {})
                   for i, it in enumerate(items)],
            variants=specs, evaluators=list(evaluators or []), repetitions=1, baseline=base,
            project=dataset_obj.project, user=user, minimum_variants=1)
    else:
        known = list(experiment.variants.values_list("name", flat=True))
        for n in names:
            if n not in known:
                ExperimentVariant.objects.create(organization=organization, experiment=experiment,
                                                 position=len(known), name=n, recorded=True)
                known.append(n)
        if evaluators:
            experiment.evaluator_ids = [str(eval_services.find_evaluator(organization, e).id) for e in evaluators]
        experiment.baseline_position = experiment.variants.get(name=names[base]).position
        experiment.save(update_fields=["evaluator_ids", "baseline_position"])
    run = start_run(experiment, user=user, awaiting=True)
    experiment_runner.prepare(run, variants=list(experiment.variants.filter(name__in=names)))
    return run


def record_outputs(run: ExperimentRun, outputs) -> int:
    """The caller's outputs for an awaiting run; the run is queued for scoring once every
    result has one."""
    if run.status != ExperimentRun.Status.AWAITING:
        raise ExperimentError("run", "takes outputs only while it is waiting for them")
    if not isinstance(outputs, list):
        raise ExperimentError("outputs", "must be a list of {item, variant, output, latency_ms, error}")
    variants = {v.name: v.id for v in run.experiment.variants.all()}
    written = 0
    for i, row in enumerate(outputs):
        where = f"outputs[{i}]"
        if not isinstance(row, dict):
            raise ExperimentError(where, "must be an object")
        if row.get("variant") not in variants:
            raise ExperimentError(f"{where}.variant", "no such variant in this experiment")
        try:
            item_id = int(row.get("item"))
        except (TypeError, ValueError):
            raise ExperimentError(f"{where}.item", "must be an item id of this run") from None
        output, error = row.get("output"), str(row.get("error") or "")[:2000]
        if output is not None and not isinstance(output, str):
            output = str(output)
        latency = _number(row.get("latency_ms"), f"{where}.latency_ms", 0, 86_400_000, int)
        written += ExperimentResult.objects.filter(
            run=run, item_id=item_id, variant_id=variants[row["variant"]], status=ExperimentResult.Status.PENDING,
        ).update(status=ExperimentResult.Status.ERROR if error or output is None else ExperimentResult.Status.DONE,
                 output=(output or "")[:32_000], error=error or ("" if output is not None else "no output"),
                 latency_ms=latency, completed_at=timezone.now())
    if not run.results.filter(status=ExperimentResult.Status.PENDING).exists():
        with transaction.atomic():
            if ExperimentRun.objects.filter(id=run.id, status=ExperimentRun.Status.AWAITING).update(
                    status=ExperimentRun.Status.PENDING):
                transaction.on_commit(lambda: enqueue(run.id))
    return written
