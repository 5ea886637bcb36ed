"""spanlens.experiments against the live server with an API key: the caller's own function
over a dataset, compared with a baseline function, scored by a worker, gated in CI."""
from __future__ import annotations

import subprocess
import sys

import pytest

import spanlens.datasets as datasets
import spanlens.experiments as experiments
from spanlens.sdk.rest import SpanlensAPIError

ITEMS = [{"input": {"variables": {"city": c}}, "expected_output": country}
         for c, country in (("Paris", "France"), ("Rome", "Italy"), ("Madrid", "Spain"), ("Lisbon", "Portugal"),
                            ("Berlin", "Germany"), ("Vienna", "Austria"))]
COUNTRIES = {i["input"]["variables"]["city"]: i["expected_output"] for i in ITEMS}


def answer(variables):
    return f"{variables['city']} is in {COUNTRIES[variables['city']]}."


def old_answer(variables):
    if variables["city"] == "Vienna":
        raise RuntimeError("timeout")
    return f"{variables['city']} is a city."


@pytest.mark.timeout(120)
def test_a_function_is_run_over_a_dataset_compared_and_gated(spanlens_server, live_db, org, sl_key):
    from celery.contrib.testing.worker import start_worker

    from evals import eval_services
    from evals.models import Experiment
    from spanlens.celery_app import app

    eval_services.create_evaluator(org, name="names-country", type="contains", config={}, pass_threshold=1)
    opts = {"api_key": sl_key, "base_url": spanlens_server.url}
    datasets.create("capitals", items=ITEMS, **opts)
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, loglevel="WARNING"):
        summary = experiments.run(dataset="capitals", task=answer, baseline=old_answer,
                                  evaluators=["names-country"], fail_below=0.9, poll_interval=0.2, **opts)
        assert summary["score"] == 1.0 and summary["run"]["status"] == "completed"
        [evaluator] = summary["evaluators"]
        [comparison] = evaluator["comparisons"]
        assert comparison["name"] == "answer" and comparison["n"] == 5  # Vienna's baseline failed: unpaired
        assert comparison["significant"] and comparison["mcnemar"]["candidate_only"] == 5
        by_name = {v["name"]: v for v in summary["variants"]}
        assert by_name["old_answer"]["errors"] == 1 and by_name["answer"]["latency_p50"] is not None

        with pytest.raises(SystemExit) as exit_:
            experiments.run(dataset="capitals", task=old_answer, name="gate", evaluators=["names-country"],
                            fail_below=0.5, poll_interval=0.2, **opts)
        assert exit_.value.code == 1
    experiment = Experiment.objects.get(organization=org, name="answer")
    assert experiment.kind == "external" and experiment.items.count() == 6


def test_bad_input_names_the_field(spanlens_server, live_db, org, sl_key):
    opts = {"api_key": sl_key, "base_url": spanlens_server.url}
    with pytest.raises(SpanlensAPIError) as err:
        experiments.run(dataset="missing", task=answer, **opts)
    assert err.value.status == 400 and err.value.field == "dataset"
    with pytest.raises(ValueError):
        experiments.run(dataset="x", task=answer, fail_below=0.5, **opts)


def test_the_task_gets_the_items_input_in_its_simplest_form():
    assert experiments.task_input({"variables": {"a": 1}}) == {"a": 1}
    assert experiments.task_input({"messages": [{"role": "user", "content": "hi"}]}) == "hi"
    two = [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]
    assert experiments.task_input({"messages": two}) == two


def test_the_sdk_module_never_imports_django():
    code = "import sys, spanlens.experiments; sys.exit(1 if 'django' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
