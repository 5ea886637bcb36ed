"""Prompts in a real Chromium: create a prompt and a second version, diff them, move
production, run the playground against the mock upstream, start an A/B test, send
traffic through the proxy with the SDK, and read the results."""
from __future__ import annotations

import os
import re
import time

import pytest
from playwright.sync_api import expect

from tests.test_browser_requests import CHROMIUM, SHOTS, browser_page, sign_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")


def test_a_user_versions_labels_plays_and_ab_tests_a_prompt(
    spanlens_server, live_db, owner, org, project, upstream, provider_keys, openai_client, sl_key, browser_page
):
    import openai

    from evals.models import PromptExperiment
    from spanlens import prompts

    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, spanlens_server)
    base = spanlens_server.url

    # Create the prompt: the editor finds and highlights the variables as they are typed.
    page.goto(f"{base}/prompts/")
    assert "No prompts yet" in page.content()
    page.click("a[data-new-prompt]")
    page.fill("input[name=name]", "support-reply")
    page.fill("input[name=description]", "First answer to a support ticket")
    page.fill("textarea[name=template]", "You are a support agent for {{product}}.\nAnswer the customer: {{question}}")
    page.wait_for_selector("[data-var-table] tr[data-var-row=question]")
    assert page.locator("[data-var-preview] mark.var").count() == 2
    page.fill("input[name=vardesc_product]", "Product name")
    page.fill("input[name=config_model]", "gpt-4o-mini")
    page.fill("input[name=commit_note]", "First draft")
    page.screenshot(path=str(SHOTS / "prompts-new.png"), full_page=True)
    page.click("form.prompt-form button[type=submit]")
    page.wait_for_url(re.compile(r"/prompts/support-reply/$"))
    assert page.locator("pre.template-view mark.var").count() == 2

    # A second version.
    page.click("a[data-new-version]")
    page.fill("textarea[name=template]",
              "You are a friendly support agent for {{product}}.\nAnswer the customer warmly: {{question}}\nSign as {{agent}}.")
    page.wait_for_selector("[data-var-table] tr[data-var-row=agent]")
    page.uncheck("input[name=varreq_agent]")
    page.fill("input[name=commit_note]", "Warmer tone")
    page.click("[data-version-form] button[type=submit]")
    page.wait_for_url(re.compile(r"\?version=2"))
    assert page.locator("[data-version-view='2']").count() == 1
    page.screenshot(path=str(SHOTS / "prompts-version.png"), full_page=True)

    # Diff v1 against v2.
    page.click("a[data-tab-link=diff]")
    page.wait_for_selector("#diff-table")
    assert page.locator("#diff-table tr.d-replace").count() >= 2
    assert page.locator("#diff-table tr.d-insert").count() == 1
    page.screenshot(path=str(SHOTS / "prompts-diff.png"), full_page=True)

    # production at v1, then moved to v2 in one click (with confirmation).
    page.click("a[data-tab-link=labels]")
    page.fill("input[name=label]", "production")
    page.select_option("form.new-label select[name=version]", "1")
    page.click("form.new-label button")
    page.wait_for_selector("tr[data-label=production]")
    page.select_option("tr[data-label=production] select[name=version]", "2")
    page.click("button[data-move-label=production]")
    page.wait_for_selector("text=production now points at version 2")
    assert page.locator(".history-table tbody tr").count() == 2
    assert "v1 → v2" in page.locator(".history-table tbody tr").first.inner_text()
    page.screenshot(path=str(SHOTS / "prompts-labels.png"), full_page=True)

    # The playground runs v2 through the organization's OpenAI key (the mock upstream).
    page.click("a[data-tab-link=playground]")
    page.fill("textarea[name=var_product]", "Lampify")
    page.fill("textarea[name=var_question]", "My lamp flickers")
    page.click("button[data-run]")
    page.wait_for_selector("[data-pg-output]")
    assert "support-reply@2" in page.locator("#playground-result").inner_text()
    page.screenshot(path=str(SHOTS / "prompts-playground.png"), full_page=True)
    sent = upstream.last()
    assert "Lampify" in sent.body.decode() and "warmly" in sent.body.decode()

    # Start an A/B test on production: A = v2 (the label's), B = v1.
    page.click("a[data-tab-link=ab]")
    page.select_option("[data-start-experiment] select[name=arm_b]", "1")
    page.fill("[data-start-experiment] input[name=name]", "Warm vs plain")
    page.click("button[data-start]")
    page.wait_for_selector("[data-experiment]")
    assert "Not enough data yet" in page.locator("[data-verdict]").inner_text()
    experiment = PromptExperiment.objects.get()

    # The app: fetch production for each user, send that arm's text through the proxy.
    client = prompts.PromptClient(api_key=sl_key, base_url=base)
    for i in range(120):
        prompt = client.get("support-reply", label="production", user_id=f"user-{i}")
        # Arm B (v1) fails about half its calls, so the results have something to say.
        failing = prompt.arm == "B" and i % 2 == 0
        try:
            openai_client.chat.completions.create(
                model="gpt-4o-mini" + ("+error-500" if failing else ""),
                messages=prompt.messages(product="Lampify", question=f"question {i}"), extra_headers=prompt.headers)
        except openai.InternalServerError:
            assert failing
    # The proxy queues each row after responding: wait for all 120 (and the playground's).
    from spanlens.requestlog import queries
    from spanlens.requestlog.writer import get_writer

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        get_writer().flush()
        if queries.count_requests(organization_id=str(org.id)) >= 121:
            break
        time.sleep(0.05)
    page.goto(f"{base}/prompts/support-reply/?tab=ab&experiment={experiment.id}")
    verdict = page.locator("[data-verdict]").inner_text()
    assert "Not enough data yet" not in verdict, verdict
    assert page.locator("#arms-table tr[data-arm=A]").count() == 1
    calls = [int(t) for t in page.locator("#arms-table tbody td:nth-child(2)").all_inner_texts()]
    assert sum(calls) == 120  # the playground run came before the test started, so it is not counted
    assert "more errors" in verdict, page.locator("#compare-table").inner_text() + page.locator("#arms-table").inner_text()
    page.screenshot(path=str(SHOTS / "prompts-ab.png"), full_page=True)

    # The list and the request log name the versions.
    page.goto(f"{base}/prompts/")
    assert page.locator("tr[data-prompt=support-reply]").count() == 1
    page.screenshot(path=str(SHOTS / "prompts-list.png"), full_page=True)
    page.goto(f"{base}/requests/?promptVersionId=support-reply@1")
    page.wait_for_selector("#request-table a[data-prompt-link]")
    refs = set(page.locator("#request-table a[data-prompt-link]").all_inner_texts())
    assert refs == {"support-reply@1"}
    page.screenshot(path=str(SHOTS / "prompts-requests.png"))


def test_a_chat_prompt_is_written_in_the_message_editor(spanlens_server, live_db, owner, org, project, browser_page):
    from evals.models import PromptVersion

    page = browser_page
    sign_in(page, spanlens_server)
    page.goto(f"{spanlens_server.url}/prompts/new/")
    page.fill("input[name=name]", "concierge")
    page.click(".kind-seg label:has(input[value=chat])")
    expect(page.locator("[data-kind-panel=text]")).to_be_hidden()  # the script toggles it on click
    page.select_option("select[name=role_0]", "system")
    page.fill("textarea[name=content_0]", "You are the concierge of {{hotel}}.")
    page.fill("textarea[name=content_1]", "{{guest}} asks: {{question}}")
    page.wait_for_selector("[data-var-table] tr[data-var-row=question]")
    assert "[system]" in page.locator("[data-var-preview]").inner_text()
    page.uncheck("input[name=varreq_guest]")
    page.screenshot(path=str(SHOTS / "prompts-chat-editor.png"), full_page=True)
    page.click("form.prompt-form button[type=submit]")
    page.wait_for_url(re.compile(r"/prompts/concierge/$"))
    assert page.locator(".msg-system mark.var").inner_text() == "{{hotel}}"
    version = PromptVersion.objects.get(prompt__name="concierge")
    assert version.kind == "chat" and [m["role"] for m in version.messages] == ["system", "user"]
    assert {v["name"]: v["required"] for v in version.variables} == {"hotel": True, "guest": False, "question": True}
    page.screenshot(path=str(SHOTS / "prompts-chat-version.png"), full_page=True)
