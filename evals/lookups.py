"""Evaluators, runs and datasets of the caller's organization, or 404 (never another tenant's)."""
from __future__ import annotations

from django.http import Http404

from evals.models import Dataset, DatasetItem, DatasetUpload, EvalRun, Evaluator
from spanlens.core.access import Access, uuid_or_404


def _get(queryset, access: Access, object_id, what: str):
    obj = queryset.filter(organization=access.organization, id=uuid_or_404(object_id)).first()
    if obj is None:
        raise Http404(f"No such {what}")
    return obj


def evaluator_or_404(access: Access, evaluator_id) -> Evaluator:
    return _get(Evaluator.objects, access, evaluator_id, "evaluator")


def run_or_404(access: Access, run_id) -> EvalRun:
    return _get(EvalRun.objects.select_related("evaluator", "dataset"), access, run_id, "eval run")


def dataset_or_404(access: Access, dataset_id) -> Dataset:
    return _get(Dataset.objects, access, dataset_id, "dataset")


def item_or_404(access: Access, dataset: Dataset, item_id) -> DatasetItem:
    return _get(DatasetItem.objects.filter(dataset=dataset), access, item_id, "dataset item")


def upload_or_404(access: Access, dataset: Dataset, upload_id) -> DatasetUpload:
    return _get(DatasetUpload.objects.filter(dataset=dataset), access, upload_id, "upload")
