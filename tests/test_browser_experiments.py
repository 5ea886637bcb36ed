"""Experiments in a real Chromium: two prompt versions over a dataset, started from the
form, run on a real Celery worker with live progress, then the paired verdict."""
from __future__ import annotations

import re

import pytest

from tests.test_browser_requests import CHROMIUM, SHOTS, browser_page, sign_in  # noqa: F401

pytestmark = pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason="Debian chromium is not installed")

MODEL = "gpt-4o-mini+echo-prompt"
PEOPLE = [("Ann", "Lampify"), ("Bo", "Desko"), ("Cy", "Chairo"), ("Di", "Lampify"), ("Ed", "Desko"),
          ("Fay", "Chairo"), ("Gus", "Lampify"), ("Hal", "Desko")]


@pytest.mark.timeout(120)
def test_a_user_compares_two_prompt_versions_and_reads_the_verdict(
        spanlens_server, live_db, owner, org, project, upstream, browser_page, settings):  # noqa: F811
    from celery.contrib.testing.worker import start_worker

    from evals import dataset_services, eval_services, prompt_services
    from spanlens.celery_app import app
    from spanlens.core import services
    from tests import mock_upstream as mock

    settings.EVAL_CONCURRENCY = 1
    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI production")
    prompt = prompt_services.create_prompt(org, project, "product-greeting", template="Say hello to {{name}}.",
                                           actor=owner)
    prompt_services.create_version(prompt, actor=owner, kind="chat", messages=[
        {"role": "system", "content": "You write short, friendly greetings."},
        {"role": "user", "content": "Say hello to {{name}} and recommend {{product}}."}])
    dataset = dataset_services.create_dataset(org, name="Customers")
    dataset_services.add_items(dataset, [{"input": {"variables": {"name": n, "product": p}}, "expected_output": p}
                                         for n, p in PEOPLE])
    eval_services.create_evaluator(org, name="Mentions the product", type="contains", config={}, pass_threshold=1)

    page = browser_page
    sign_in(page, spanlens_server)
    page.click("nav >> text=Experiments")
    page.wait_for_selector("#experiment-form")
    page.fill("input[name=name]", "Greeting v1 vs v2")
    page.select_option("select[name=dataset]", label="Customers")
    page.check("input[name=baseline][value='0']")
    page.select_option("select[name='variant-0-prompt_version']", "product-greeting@1")
    page.fill("input[name='variant-0-model']", MODEL)
    page.select_option("select[name='variant-1-prompt_version']", "product-greeting@2")
    page.fill("input[name='variant-1-model']", MODEL)
    page.check("text=Mentions the product")
    page.screenshot(path=str(SHOTS / "experiments-new.png"), full_page=True)
    page.click("[data-start-experiment]")
    page.wait_for_url(re.compile(r"/experiments/[0-9a-f-]{36}/$"))
    page.wait_for_selector("#run-progress")
    page.screenshot(path=str(SHOTS / "experiments-pending.png"), full_page=True)

    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, loglevel="WARNING"):
        page.wait_for_selector("#run-body[data-status='completed']", timeout=60_000)
    verdict = page.locator("[data-verdict]").first.inner_text()
    assert "better than the baseline by 1.000" in verdict
    assert page.locator("#side-by-side tbody tr").count() == 8
    assert "Answer: Say hello to Ann and recommend Lampify." in page.locator("#side-by-side").inner_text()
    page.screenshot(path=str(SHOTS / "experiments-verdict.png"), full_page=True)

    # A re-run on the same snapshot adds a point to the chart.
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, loglevel="WARNING"):
        page.click("[data-rerun]")
        page.wait_for_selector("#run-body[data-status='completed']", timeout=60_000)
    page.wait_for_selector("#history-chart")
    page.screenshot(path=str(SHOTS / "experiments-rerun.png"), full_page=True)


@pytest.mark.timeout(120)
def test_a_user_annotates_five_items_and_sees_the_agreement(
        spanlens_server, live_db, owner, org, browser_page):  # noqa: F811
    from evals import annotation_services as ann
    from evals import dataset_services, eval_services, experiment_runner, experiment_services
    from evals.models import ExperimentResult, ExperimentScore

    judge = eval_services.create_evaluator(org, name="Helpfulness judge", type="contains", config={"value": "x"})
    dataset = dataset_services.create_dataset(org, name="Support")
    questions = ["How do I reset my password?", "Can I pay by invoice?", "Where is my order?",
                 "Do you ship to Canada?", "How do I cancel?"]
    dataset_services.add_items(dataset, [{"input": q} for q in questions])
    experiment = experiment_services.create_experiment(org, name="Support answers", dataset=dataset,
                                                       variants=[{"model": "a"}, {"model": "b"}])
    run = experiment_services.start_run(experiment)
    experiment_runner.prepare(run)
    answers = ["Open Settings → Reset password.", "Yes, on the Business plan.", "I like turtles.",
               "Yes, in 5–7 days.", "Cancelling is not possible."]
    results = [r for r in run.results.select_related("item", "variant").order_by("item__position")
               if r.variant.position == 0]
    for r, answer, passed in zip(results, answers, (True, True, False, True, True)):
        ExperimentResult.objects.filter(id=r.id).update(status="done", output=answer)
        ExperimentScore.objects.create(organization=org, result=r, evaluator_id=judge.id, status="scored",
                                       score=1.0 if passed else 0.0, passed=passed)
    run.results.filter(status="pending").update(status="error", error="not generated")
    type(run).objects.filter(id=run.id).update(status="completed")
    config = ann.create_score_config(org, name="Helpful?", kind="boolean")

    page = browser_page
    sign_in(page, spanlens_server)
    page.click("nav >> text=Annotation")
    page.fill("#queue-form input[name=name]", "Support answers, week 48")
    page.select_option("#queue-form select[name=score_config]", str(config.id))
    page.select_option("#queue-form select[name=experiment_run]", str(run.id))
    page.select_option("#queue-form select[name=evaluator]", str(judge.id))
    page.screenshot(path=str(SHOTS / "annotation-new-queue.png"), full_page=True)
    page.click("[data-create-queue]")
    page.wait_for_selector("#annotate-form")
    page.screenshot(path=str(SHOTS / "annotation-scoring.png"), full_page=True)
    # Five answers scored from the keyboard: the judge and the person disagree on the last one.
    for key in ("y", "y", "n", "y", "n"):
        item = page.locator("#annotate-form").get_attribute("data-item")
        page.keyboard.press(key)
        page.wait_for_function(
            "id => !document.querySelector('#annotate-form') || "
            "document.querySelector('#annotate-form').dataset.item !== id", arg=item)
    page.wait_for_selector("#queue-done")
    assert page.locator("[data-agreement-n]").inner_text() == "5"
    assert page.locator("[data-kappa]").inner_text() == "0.545"
    assert "not calibrated yet" in page.locator("#agreement").inner_text()
    page.screenshot(path=str(SHOTS / "annotation-agreement.png"), full_page=True)


@pytest.mark.timeout(150)
def test_a_user_replays_gpt_4o_calls_on_a_cheaper_model_and_reads_the_saving(
        spanlens_server, live_db, owner, org, project, upstream, browser_page, settings):  # noqa: F811
    from datetime import datetime, timedelta, timezone
    from decimal import Decimal

    from celery.contrib.testing.worker import start_worker

    from evals import eval_services
    from spanlens.celery_app import app
    from spanlens.core import services
    from spanlens.requestlog import queries
    from tests import mock_upstream as mock
    from tests.seed import make_row, request_body, response_body

    settings.EVAL_CONCURRENCY = 2
    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI production")
    now = datetime.now(timezone.utc)
    questions = ["Why is the sky blue during the day?", "How many legs does a spider have?",
                 "What is the capital of France?", "Why do cats purr when happy?"]
    queries.insert_requests([
        make_row(org, project, provider="openai", model="gpt-4o", status_code=200, cost_usd=Decimal("0.0150"),
                 latency_ms=900 + i, created_at=now - timedelta(hours=2 + i),
                 request_body=request_body("openai", "gpt-4o", q),
                 response_body=response_body("openai", "gpt-4o", f"Here is why: {q.lower()}"))
        for i, q in enumerate(questions)])
    eval_services.create_evaluator(org, name="Relevance", type="llm_judge", pass_threshold=0.5, config={
        "criterion": "The answer addresses the question.", "judge_provider": "openai",
        "judge_model": "gpt-4o-mini", "scale_min": 1, "scale_max": 5})

    page = browser_page
    sign_in(page, spanlens_server)
    page.goto(f"{spanlens_server.url}/requests/?model=gpt-4o")
    page.click("[data-replay]")
    page.wait_for_selector("#replay-form")
    assert page.locator("[data-replay-count]").inner_text() == "4"
    page.fill("input[name=target_model]", "gpt-4o-mini")
    page.check("text=Relevance")
    page.screenshot(path=str(SHOTS / "replay-form.png"), full_page=True)
    page.click("[data-start-replay]")
    page.wait_for_url(re.compile(r"/experiments/[0-9a-f-]{36}/$"))
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, loglevel="WARNING"):
        page.wait_for_selector("#run-body[data-status='completed']", timeout=90_000)
    assert page.locator("[data-monthly-difference]").inner_text().startswith("−$")
    assert page.locator("[data-cost-change]").inner_text().startswith("-")
    assert page.locator("[data-verdict]").count() == 1
    page.screenshot(path=str(SHOTS / "replay-result.png"), full_page=True)
