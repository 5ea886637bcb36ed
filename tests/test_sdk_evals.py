"""spanlens.datasets and spanlens.evals against the live server with an API key: a dataset
from code, then an eval run that waits on a real Celery worker and returns the summary."""
from __future__ import annotations

import subprocess
import sys

import pytest

import spanlens.datasets as datasets
import spanlens.evals as evals
from spanlens.sdk.rest import SpanlensAPIError


@pytest.mark.timeout(90)
def test_a_dataset_and_a_run_from_code(spanlens_server, live_db, org, project, sl_key, upstream):
    from celery.contrib.testing.worker import start_worker

    from evals import eval_services
    from spanlens.celery_app import app
    from spanlens.core import services
    from tests import mock_upstream as mock

    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI")
    eval_services.create_evaluator(org, name="relevance", type="llm_judge", config={
        "criterion": "Relevant.", "judge_provider": "openai", "judge_model": "gpt-4o-mini",
        "scale_min": 0, "scale_max": 10}, pass_threshold=0.5)
    opts = {"api_key": sl_key, "base_url": spanlens_server.url}
    created = datasets.create("colours", description="from code",
                              items=[{"input": "What colour is grass?", "output": "The colour of grass is green."}],
                              **opts)
    assert created["name"] == "colours"
    assert datasets.add_items("colours", [{"input": "What colour is snow?", "output": "Bananas."}], **opts) == 1
    assert [(d["name"], d["item_count"]) for d in datasets.list(**opts)] == [("colours", 2)]
    with pytest.raises(SpanlensAPIError) as err:
        datasets.add_items(created["id"], [{"no": "input"}], **opts)
    assert err.value.status == 400 and err.value.field == "items[0]"

    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, loglevel="WARNING"):
        summary = evals.run("relevance", dataset="colours", poll_interval=0.2, **opts)
    assert summary["run"]["status"] == "completed" and summary["total"] == 2
    assert summary["mean"] == pytest.approx(0.5) and summary["pass_rate"] == pytest.approx(0.5)
    assert summary["lowest"][0]["output"] == "Bananas." and summary["lowest"][0]["score"] == 0.0
    assert summary["judge_cost_usd"] > 0


def test_the_sdk_modules_never_import_django():
    code = "import sys, spanlens.datasets, spanlens.evals; sys.exit(1 if 'django' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
