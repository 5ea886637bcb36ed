"""Alerts in a real Chromium: add a signed webhook channel and test it, create an alert rule
(with a form error on the way), watch it fire into the delivery log."""
from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.seed import make_row
from tests.test_browser_requests import CHROMIUM, SHOTS, browser_page, sign_in  # noqa: F401 (fixture)
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


def test_a_user_adds_a_webhook_creates_a_rule_and_sees_it_fire(spanlens_server, live_db, owner, org, project,
                                                                receiver, browser_page):
    from spanlens.alerts import delivery, evaluation, signing
    from spanlens.alerts.models import AlertRule, Delivery
    from spanlens.requestlog import queries

    from tests.test_browser_csp import WATCH

    page = browser_page
    page.add_init_script(WATCH)
    sign_in(page, spanlens_server)
    page.click("nav.nav a[href='/alerts/']")
    page.wait_for_selector("#rule-table tr[data-rule]")
    assert page.locator("#rule-table tr[data-rule]").count() == 4
    page.screenshot(path=str(SHOTS / "alerts-rules-default.png"), full_page=True)

    # A webhook channel: its secret is shown once; Send test reaches the receiver, signed.
    page.click("a[data-tab-link=channels]")
    page.click("#channel-form .seg label:has(input[value=webhook])")
    expect(page.locator("#channel-form input[name=email_to]")).to_be_hidden()
    page.fill("#channel-form input[name=name]", "On-call webhook")
    page.fill("#channel-form input[name=url]", f"{receiver.url}/hooks/spanlens")
    page.click("#channel-form button[type=submit]")
    secret = page.locator("#new-secret").inner_text().strip()
    assert secret.startswith("whsec_")
    page.screenshot(path=str(SHOTS / "alerts-channel-secret.png"), full_page=True)
    page.click("tr[data-channel='On-call webhook'] button[data-send-test]")
    page.wait_for_selector("text=Test sent to “On-call webhook” (HTTP 200).")
    [test] = receiver.received
    assert signing.verify(secret, test["headers"]["spanlens-timestamp"], test["headers"]["spanlens-signature"],
                          test["body"])
    assert json.loads(test["body"])["type"] == "alert.test"
    page.screenshot(path=str(SHOTS / "alerts-channels.png"), full_page=True)

    # A rule: the form shows the kind's fields; a bad threshold comes back marked.
    page.click("a[data-tab-link=rules]")
    page.click("a[data-new-rule]")
    page.fill("#rule-form input[name=name]", "Slow answers")
    page.select_option("#rule-form select[name=kind]", "p95_latency")
    # The form's script shows the kind's fields on change: wait for it, don't sample once.
    expect(page.locator("#rule-form [data-uses=end_user]")).to_be_visible()
    expect(page.locator("#rule-form [data-uses=evaluator]")).to_be_hidden()
    assert page.locator("[data-threshold-unit]").inner_text() == "ms"
    page.fill("#rule-form input[name=threshold]", "two seconds")
    page.fill("#rule-form input[name=window]", "15")
    page.select_option("#rule-form select[name=window_unit]", "min")
    owners = page.locator("#rule-form label:has-text(\"Owners' email\") input[name=channels]")
    assert owners.is_checked()  # new rules start with the owners' email, like the default ones
    owners.uncheck()
    page.check("#rule-form label:has-text('On-call webhook') input[name=channels]")
    page.click("#rule-form button[type=submit]")
    page.wait_for_selector("[data-error-for=threshold]")
    assert "must be a number" in page.locator("[data-error-for=threshold]").inner_text()
    assert page.locator("#rule-form input[name=name]").input_value() == "Slow answers"
    assert page.locator("#rule-form label:has-text('On-call webhook') input[name=channels]").is_checked()
    page.screenshot(path=str(SHOTS / "alerts-rule-form-error.png"), full_page=True)
    page.fill("#rule-form input[name=threshold]", "2000")
    page.click("#rule-form button[type=submit]")
    page.wait_for_url(re.compile(r"/alerts/$"))
    row = page.locator("tr[data-rule='Slow answers']")
    assert "> 2,000 ms over 15 min" in row.inner_text() and "On-call webhook" in row.inner_text()

    # Slow calls arrive; the beat's evaluation fires the rule and the webhook gets it.
    now = datetime.now(timezone.utc)
    queries.insert_requests([make_row(org, project, latency_ms=4500, status_code=200,
                                      created_at=now - timedelta(minutes=2, seconds=i)) for i in range(30)])
    rule = AlertRule.objects.get(organization=org, name="Slow answers")
    assert evaluation.evaluate_rule(str(rule.id)) == "fired"
    for d in Delivery.objects.filter(notification__rule=rule):
        delivery.attempt(str(d.id))
    fired = json.loads(receiver.received[-1]["body"])
    assert fired["type"] == "alert.firing" and fired["rule"]["name"] == "Slow answers" and fired["value"] == 4500
    page.reload()
    assert "Firing" in page.locator("tr[data-rule='Slow answers'] [data-state]").inner_text()
    page.screenshot(path=str(SHOTS / "alerts-rules-firing.png"), full_page=True)

    page.click("tr[data-rule='Slow answers'] a")
    page.wait_for_selector("[data-rule-state]")
    assert "Latency p95 4,500 ms" in page.locator("[data-rule-state]").inner_text()
    page.screenshot(path=str(SHOTS / "alerts-rule-edit.png"), full_page=True)

    page.click("a[data-tab-link=deliveries]")
    first = page.locator("#delivery-table tbody tr[data-delivery-id]").first
    assert "Slow answers" in first.inner_text() and "Delivered" in first.inner_text()
    page.screenshot(path=str(SHOTS / "alerts-deliveries.png"), full_page=True)

    # The receiver goes down: a failed test is a dead letter, redelivered once it is back.
    receiver.then = 503
    page.click("a[data-tab-link=channels]")
    page.click("tr[data-channel='On-call webhook'] button[data-send-test]")
    page.wait_for_selector("text=failed: HTTP 503")
    page.click("tr[data-channel='On-call webhook'] summary[data-edit-channel]")
    page.wait_for_selector("tr[data-channel='On-call webhook'] .al-popover-body input[name=name]")
    page.screenshot(path=str(SHOTS / "alerts-channel-edit.png"), full_page=True)
    page.click("a[data-tab-link=deliveries]")
    assert page.locator("a[data-tab-link=deliveries] .badge").inner_text() == "1"
    page.click("a[data-status-filter=dead]")
    dead = page.locator("#delivery-table tr[data-status=dead]")
    assert dead.count() == 1 and "HTTP 503" in dead.inner_text()
    page.screenshot(path=str(SHOTS / "alerts-dead-letters.png"), full_page=True)
    receiver.then = 200
    dead_id = dead.get_attribute("data-delivery-id")
    dead.locator("button[data-redeliver]").click()
    page.wait_for_selector("text=queued again")
    assert delivery.attempt(dead_id) == "delivered"
    page.click("a[data-status-filter=all]")
    assert "Delivered" in page.locator(f"tr[data-delivery-id='{dead_id}']").inner_text()
    # Nothing on these pages needed more than the Content-Security-Policy allows.
    assert page.evaluate("window.__cspViolations") == []
    # ORM calls made between Playwright calls run in their own context, with their own
    # connection: close it, or the test database cannot be dropped at the end of the run.
    from django.db import connections

    connections.close_all()
