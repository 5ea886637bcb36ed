"""Experiments and their runs of the caller's organization, or 404 (never another tenant's)."""
from __future__ import annotations

from django.http import Http404

from evals.models import Experiment, ExperimentRun
from spanlens.core.access import Access, uuid_or_404


def experiment_or_404(access: Access, experiment_id) -> Experiment:
    experiment = Experiment.objects.filter(organization=access.organization, id=uuid_or_404(experiment_id)).first()
    if experiment is None:
        raise Http404("No such experiment")
    return experiment


def experiment_run_or_404(access: Access, experiment_id, run_id) -> ExperimentRun:
    run = (ExperimentRun.objects.select_related("experiment")
           .filter(organization=access.organization, experiment_id=uuid_or_404(experiment_id), id=uuid_or_404(run_id))
           .first())
    if run is None:
        raise Http404("No such experiment run")
    return run
