"""Evals in a real Chromium: a dataset from three logged requests, an LLM-judge evaluator,
a run on a real Celery worker with its live progress bar, then the lowest-scoring samples."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.seed import make_row, request_body, response_body
from tests.test_browser_requests import CHROMIUM, SHOTS, browser_page, sign_in  # noqa: F401

pytestmark = pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason="Debian chromium is not installed")

CALLS = [
    ("How do I reset my account password?", "To reset your account password, open Settings and choose Reset password."),
    ("What are your support hours on weekends?", "Our cafeteria serves lunch from noon."),
    ("Can I export my invoices as PDF files?", "Yes, invoices can be exported from the billing page."),
]


def _calls(org, project):
    now = datetime.now(timezone.utc)
    return [make_row(org, project, provider="openai", model="gpt-4o-mini-2024-07-18", status_code=200,
                     created_at=now - timedelta(minutes=i),
                     request_body=request_body("openai", "gpt-4o-mini", question),
                     response_body=response_body("openai", "gpt-4o-mini", answer))
            for i, (question, answer) in enumerate(CALLS)]


@pytest.mark.timeout(120)
def test_a_user_builds_a_dataset_runs_a_judge_and_reads_the_lowest_samples(
        spanlens_server, live_db, owner, org, project, upstream, browser_page, settings):  # noqa: F811
    from celery.contrib.testing.worker import start_worker

    from spanlens.celery_app import app
    from spanlens.core import services
    from spanlens.requestlog import queries
    from tests import mock_upstream as mock

    settings.EVAL_CONCURRENCY = 1
    upstream.judge_delay_s = 1.0
    services.add_provider_key(project, "openai", mock.OPENAI_KEY, "OpenAI production")
    rows = _calls(org, project)
    queries.insert_requests(rows)
    page = browser_page
    sign_in(page, spanlens_server)

    # Three requests into a new dataset, from the drawer.
    for i, row in enumerate(rows):
        page.click(f"#request-table tr[data-request-id='{row['id']}'] td.model")
        page.wait_for_selector(f".drawer[data-request-id='{row['id']}'] [data-drawer-add]")
        form = page.locator(".drawer [data-drawer-add]")
        if i == 0:
            form.locator("select[name=dataset]").select_option("")
            form.locator("input[name=new_name]").fill("Support questions")
            page.screenshot(path=str(SHOTS / "evals-add-to-dataset.png"))
        else:
            form.locator("select[name=dataset]").select_option(label="Support questions")
        form.locator("button[type=submit]").click()
        page.wait_for_selector(".drawer [data-added]")
        page.click(".drawer [data-close-drawer].btn")
    page.goto(f"{spanlens_server.url}/datasets/")
    page.click("text=Support questions")
    page.wait_for_selector("#item-table tr[data-item-id]")
    assert page.locator("#item-table tr[data-item-id]").count() == 3
    page.screenshot(path=str(SHOTS / "evals-dataset.png"), full_page=True)

    # An LLM-judge evaluator.
    page.goto(f"{spanlens_server.url}/evals/")
    page.click("[data-new-evaluator]")
    page.fill("input[name=name]", "Answer relevance")
    page.fill("textarea[name=criterion]", "The answer addresses the customer's question directly.")
    page.fill("input[name=judge_model]", "gpt-4o-mini")
    page.fill("input[name=pass_threshold]", "0.6")
    page.screenshot(path=str(SHOTS / "evals-new-evaluator.png"), full_page=True)
    page.click("#evaluator-form button[type=submit]")
    page.wait_for_url(re.compile(r"/evals/[0-9a-f-]{36}/$"))

    # Start a run over the dataset; the estimate is shown first.
    page.wait_for_function("() => document.querySelector('[data-estimate]').textContent.includes('estimated judge cost')")
    assert "3 samples" in page.locator("[data-estimate]").inner_text()
    page.screenshot(path=str(SHOTS / "evals-evaluator.png"), full_page=True)
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING"):
        page.click("[data-start-run]")
        page.wait_for_url(re.compile(r"/evals/runs/[0-9a-f-]{36}/$"))
        page.wait_for_selector("#run-progress .progress")
        page.wait_for_function("() => /[12] \\/ 3 samples/.test(document.querySelector('[data-progress-count]')?.textContent || '')",
                               timeout=30_000)
        page.screenshot(path=str(SHOTS / "evals-run-progress.png"), full_page=True)
        page.wait_for_selector("#run-body[data-status=completed]", timeout=60_000)
    assert page.locator("#run-progress").count() == 0
    page.screenshot(path=str(SHOTS / "evals-run-results.png"), full_page=True)

    lowest = page.locator("#lowest [data-lowest]")
    assert lowest.count() == 3
    first = lowest.first.inner_text()
    assert first.startswith("0.00") and "does not address the request" in first and "cafeteria" in first
    assert 0 < float(page.locator("[data-mean]").inner_text()) < 1
    assert page.locator("#result-table tr[data-result-status=scored]").count() == 3
    # The lowest sample links back to the request it came from.
    page.locator("#lowest [data-lowest]").first.locator("[data-request-link]").click()
    page.wait_for_url(re.compile(rf"/requests/{rows[1]['id']}/"))
    page.go_back()

    # The judge calls were logged as requests, with their cost...
    page.click("[data-judge-calls]")
    page.wait_for_selector("#request-table tbody tr[data-request-id]")
    assert page.locator("#request-table tbody tr[data-request-id]").count() == 3
    page.go_back()
    # ...and a production run samples the three real calls, never the judge's own.
    page.click("text=Answer relevance")
    page.click("#run-form .seg label:has(input[value=production])")
    page.fill("input[name=sample_size]", "50")
    page.wait_for_function("() => document.querySelector('[data-estimate]').textContent.includes('of 3 available')")
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING"):
        page.click("[data-start-run]")
        page.wait_for_selector("#run-body[data-status=completed]", timeout=60_000)
    assert page.locator("#result-table tr[data-result-status=scored]").count() == 3
    assert page.locator("#result-table a[href^='/requests/']").count() == 3
    page.goto(f"{spanlens_server.url}/evals/")
    assert page.locator("#evaluator-table tr[data-evaluator-id] svg.stat-spark").count() == 1  # the trend
    page.screenshot(path=str(SHOTS / "evals-list.png"), full_page=True)


@pytest.mark.timeout(60)
def test_a_csv_with_bad_rows_is_previewed_refused_then_imported_without_them(
        spanlens_server, live_db, owner, org, browser_page):  # noqa: F811
    from pathlib import Path

    from evals import dataset_services

    dataset = dataset_services.create_dataset(org, name="Capitals")
    page = browser_page
    sign_in(page, spanlens_server)
    page.goto(f"{spanlens_server.url}/datasets/{dataset.id}/")
    page.set_input_files("#upload-form input[type=file]",
                         str(Path(__file__).parent / "fixtures" / "datasets" / "ten_rows_two_bad.csv"))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#import-preview")
    # Every column starts as a variable: only the short row is bad so far.
    assert page.locator("[data-bad-line]").evaluate_all("els => els.map(e => e.dataset.badLine)") == ["7"]
    page.select_option("select[data-column=source]", "metadata")
    page.click("#import-preview button[value=preview]")
    page.wait_for_selector("[data-bad-line='5']")
    assert page.locator("[data-bad-line]").evaluate_all("els => els.map(e => e.dataset.badLine)") == ["5", "7"]
    page.screenshot(path=str(SHOTS / "evals-import-preview.png"), full_page=True)
    # All or nothing: without skipping the bad rows on purpose, nothing goes in.
    page.click("[data-import]")
    page.wait_for_selector("[data-upload-error]")
    assert "nothing imported" in page.locator("[data-upload-error]").inner_text()
    assert dataset.items.count() == 0
    page.check("[data-skip-invalid]")
    page.click("[data-import]")
    page.wait_for_selector(".flash")
    assert "Imported 8 item(s), skipped 2 bad row(s)" in page.locator(".flash").inner_text()
    assert page.locator("#item-table tr[data-item-id]").count() == 8
    assert dataset.items.first().metadata == {"source": "atlas"}
    page.screenshot(path=str(SHOTS / "evals-imported.png"), full_page=True)
