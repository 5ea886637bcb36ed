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
