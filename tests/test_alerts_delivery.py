"""Delivering alerts: a signed webhook to a real receiver on 127.0.0.1, retries with
exponential backoff, dead letters and redelivery, Slack and Discord bodies against the
shapes their docs record, and email."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from django.test import override_settings
from django.utils import timezone

from spanlens.alerts import delivery, payloads, services, signing
from spanlens.alerts.models import Channel, Delivery
from tests.webhook_receiver import WebhookReceiver

FIXTURES = Path(__file__).parent / "fixtures" / "alerts"


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


def _webhook(org, receiver, name="On-call"):
    channel, secret = services.create_channel(org, kind="webhook", name=name, url=f"{receiver.url}/hooks/spanlens")
    return channel, secret


def _alert(org, channel, **kwargs):
    notification = services.notify(org, channels=[channel], event="firing", title="5xx rate over 1 %",
                                   text="3.20 % of 500 calls in the last 5 min", kind="server_error_rate",
                                   value=3.2, threshold=1.0, fields=[["Condition", "> 1 % over 5 min"]],
                                   url="http://localhost:8000/alerts/", **kwargs)
    return notification.deliveries.get()


def test_a_webhook_delivery_is_signed_over_timestamp_and_body(org, receiver):
    channel, secret = _webhook(org, receiver)
    assert secret.startswith("whsec_")
    d = _alert(org, channel)

    assert delivery.attempt(str(d.id)) == "delivered"

    [request] = receiver.received
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hooks/spanlens"
    assert headers["content-type"] == "application/json"
    assert headers["spanlens-delivery"] == str(d.id)
    assert headers["spanlens-event"] == "alert.firing"
    timestamp = headers["spanlens-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    # What the README tells a receiver to compute.
    expected = "v1=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, headers["spanlens-signature"])
    assert signing.verify(secret, timestamp, headers["spanlens-signature"], body)
    # A changed body, another secret or an old timestamp does not verify.
    assert not signing.verify(secret, timestamp, headers["spanlens-signature"], body + b" ")
    assert not signing.verify("whsec_other", timestamp, headers["spanlens-signature"], body)
    assert not signing.verify(secret, timestamp, headers["spanlens-signature"], body, now=int(timestamp) + 301)
    sent = json.loads(body)
    assert sent["type"] == "alert.firing" and sent["title"] == "5xx rate over 1 %"
    assert sent["organization"] == {"id": str(org.id), "name": org.name}
    assert sent["value"] == 3.2 and sent["threshold"] == 1.0
    assert sent["fields"] == {"Condition": "> 1 % over 5 min"}
    d.refresh_from_db()
    assert d.status == Delivery.Status.DELIVERED and d.response_status == 200 and d.attempts == 1
    # Running the task again (a duplicate message) sends nothing twice.
    assert delivery.attempt(str(d.id)) == "skipped"
    assert len(receiver.received) == 1


@override_settings(ALERT_RETRY_BASE_S=30.0, ALERT_RETRY_MAX_S=3600.0)
def test_a_failing_receiver_is_retried_with_exponential_backoff_then_succeeds(org, receiver):
    channel, secret = _webhook(org, receiver)
    receiver.script = [500, 503, 429]
    d = _alert(org, channel)
    waits = []
    for _ in range(3):
        before = timezone.now()
        assert delivery.attempt(str(d.id)) == "retrying"
        d.refresh_from_db()
        waits.append((d.next_attempt_at - before).total_seconds())
        # Not due yet: a second message for it does nothing.
        assert delivery.attempt(str(d.id)) == "skipped"
        assert str(d.id) not in delivery.due_ids()
        Delivery.objects.filter(id=d.id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        assert str(d.id) in delivery.due_ids()
    # The wait counts from the end of the failed attempt; the send itself takes a moment.
    assert waits == [pytest.approx(w, abs=5) for w in (30, 60, 120)]
    assert "HTTP 429" in d.last_error

    assert delivery.attempt(str(d.id)) == "delivered"
    d.refresh_from_db()
    assert d.attempts == 4 and d.last_error == ""
    # Every retry carries the same delivery id (receivers deduplicate on it) and its own valid signature.
    assert {r["headers"]["spanlens-delivery"] for r in receiver.received} == {str(d.id)}
    assert all(signing.verify(secret, r["headers"]["spanlens-timestamp"], r["headers"]["spanlens-signature"], r["body"])
               for r in receiver.received)


def test_backoff_is_capped():
    with override_settings(ALERT_RETRY_BASE_S=30.0, ALERT_RETRY_MAX_S=3600.0):
        assert [delivery.backoff_s(n) for n in (1, 2, 3, 7, 8, 20)] == [30, 60, 120, 1920, 3600, 3600]


@override_settings(ALERT_MAX_ATTEMPTS=3)
def test_a_receiver_that_keeps_failing_leaves_a_dead_letter_that_can_be_redelivered(org, receiver):
    channel, _ = _webhook(org, receiver)
    receiver.then = 502
    d = _alert(org, channel)
    for expected in ("retrying", "retrying", "dead"):
        Delivery.objects.filter(id=d.id).update(next_attempt_at=None)
        assert delivery.attempt(str(d.id)) == expected
    d.refresh_from_db()
    assert d.status == Delivery.Status.DEAD and d.attempts == 3 and "HTTP 502" in d.last_error
    assert str(d.id) not in delivery.due_ids()
    assert len(receiver.received) == 3

    receiver.then = 200
    services.redeliver(d)
    d.refresh_from_db()
    assert d.status == Delivery.Status.PENDING and d.attempts == 0
    assert delivery.attempt(str(d.id)) == "delivered"
    with pytest.raises(services.AlertError):
        services.redeliver(d)  # only dead letters


def test_a_removed_webhook_is_a_dead_letter_at_once(org, receiver):
    channel, _ = _webhook(org, receiver)
    receiver.then = 404
    receiver.answer_body = b"no_service"
    d = _alert(org, channel)
    assert delivery.attempt(str(d.id)) == "dead"
    d.refresh_from_db()
    assert d.attempts == 1 and d.response_status == 404 and "no_service" in d.last_error


def test_an_unreachable_receiver_is_retried(org, receiver):
    channel, _ = _webhook(org, receiver)
    receiver.stop()
    d = _alert(org, channel)
    assert delivery.attempt(str(d.id)) == "retrying"
    d.refresh_from_db()
    assert "could not connect" in d.last_error
    receiver.__init__()  # a fresh server for the fixture's stop()
    receiver.start()


def test_a_send_a_dead_worker_left_behind_is_retried(org, receiver):
    channel, _ = _webhook(org, receiver)
    d = _alert(org, channel)
    Delivery.objects.filter(id=d.id).update(status=Delivery.Status.SENDING, attempts=1,
                                            last_attempt_at=timezone.now() - timedelta(minutes=10))
    assert str(d.id) in delivery.due_ids()
    assert delivery.attempt(str(d.id)) == "delivered"


def test_metadata_addresses_are_refused_when_saved(org):
    for url in ("http://169.254.169.254/latest/meta-data/", "http://metadata.google.internal/x",
                "ftp://example.com/hook", "http://user:pw@127.0.0.1/hook", "not a url"):
        with pytest.raises(services.AlertError) as exc:
            services.create_channel(org, kind="webhook", name=f"bad {url}", url=url)
        assert exc.value.field == "url"


# --- Slack and Discord bodies ------------------------------------------------------------

def _load(name):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def notification(org):
    channel, _ = services.create_channel(org, kind="slack", name="#alerts", url="http://127.0.0.1:9/hook")
    n = services.notify(org, channels=[channel], event="firing", title="Spend <over> $50 & rising",
                        text="$72.10 spent in the last 24 h by <@U123> @everyone " + "x" * 5000,
                        value=72.1, threshold=50.0, url="http://localhost:8000/alerts/r1/",
                        fields=[["Condition", "> $50.00 over 24 h"], ["Calls", "12,400"]] +
                        [[f"f{i}", "v" * 3000] for i in range(30)])
    return n


def test_slack_payload_has_the_recorded_shape(notification, org):
    schema = _load("slack_incoming_webhook.schema.json")
    jsonschema.validate(_load("slack_incoming_webhook.example.json"), schema)  # the schema fits Slack's own example
    body = payloads.slack(notification, org.name)
    jsonschema.validate(body, schema)
    header, section, fields, context = body["blocks"]
    assert header["type"] == "header" and header["text"]["text"].startswith("Firing: Spend")
    # Slack markup in alert text is escaped: no forged links or mentions.
    assert "&lt;@U123&gt;" in section["text"]["text"] and "<@U123>" not in json.dumps(body)
    assert fields["fields"][0]["text"] == "*Condition*\n&gt; $50.00 over 24 h"
    assert "<http://localhost:8000/alerts/r1/|Open in Spanlens>" in context["elements"][0]["text"]
    assert body["text"].startswith("🔴 Firing: Spend &lt;over&gt; $50 &amp; rising")


def test_discord_payload_has_the_recorded_shape(notification, org):
    schema = _load("discord_execute_webhook.schema.json")
    jsonschema.validate(_load("discord_execute_webhook.example.json"), schema)
    body = payloads.discord(notification, org.name)
    jsonschema.validate(body, schema)
    [embed] = body["embeds"]
    assert embed["title"] == "Firing: Spend <over> $50 & rising"
    assert embed["color"] == 0xD92D20 and embed["url"] == "http://localhost:8000/alerts/r1/"
    assert embed["fields"][0] == {"name": "Condition", "value": "> $50.00 over 24 h", "inline": True}
    # Alert text may quote @everyone: Discord is told to ping nobody.
    assert body["allowed_mentions"] == {"parse": []}


def test_slack_and_discord_receive_their_bodies_over_http(org, receiver):
    slack, _ = services.create_channel(org, kind="slack", name="#llm-alerts", url=f"{receiver.url}/services/T0/B0/x")
    discord, _ = services.create_channel(org, kind="discord", name="Discord ops", url=f"{receiver.url}/api/webhooks/1/t")
    n = services.notify(org, channels=[slack, discord], event="resolved", title="p95 latency", text="Back under 5 s")
    for d in n.deliveries.all():
        assert delivery.attempt(str(d.id)) == "delivered"
    by_path = {r["path"]: json.loads(r["body"]) for r in receiver.received}
    jsonschema.validate(by_path["/services/T0/B0/x"], _load("slack_incoming_webhook.schema.json"))
    jsonschema.validate(by_path["/api/webhooks/1/t"], _load("discord_execute_webhook.schema.json"))
    assert by_path["/api/webhooks/1/t"]["embeds"][0]["color"] == 0x12B76A
    # Only signed webhooks carry a signature.
    assert all("spanlens-signature" not in r["headers"] for r in receiver.received)


# --- email ---------------------------------------------------------------------------------

def test_the_owners_email_channel_mails_the_owners(org, owner, member, mailoutbox):
    channel = Channel.objects.get(organization=org, is_default=True)
    d = _alert(org, channel)
    with override_settings(EMAIL_HOST="smtp.example.test"):
        assert delivery.attempt(str(d.id)) == "delivered"
    [mail] = mailoutbox
    assert mail.to == ["owner@example.com"]  # the member is not an owner
    assert mail.subject == "[Spanlens] Firing: 5xx rate over 1 %"
    assert "3.20 % of 500 calls" in mail.body and "Condition: > 1 % over 5 min" in mail.body


def test_email_without_a_mail_service_is_a_dead_letter_that_says_so(org, mailoutbox):
    channel = Channel.objects.get(organization=org, is_default=True)
    d = _alert(org, channel)
    assert delivery.attempt(str(d.id)) == "dead"
    d.refresh_from_db()
    assert "RESEND_API_KEY" in d.last_error and mailoutbox == []


def test_send_test_reports_the_outcome_at_once(org, receiver):
    channel, _ = _webhook(org, receiver)
    d = services.send_test(channel)
    assert d.status == Delivery.Status.DELIVERED and d.notification.event == "test"
    receiver.then = 500
    d = services.send_test(channel)
    # A test is tried once: a failure is a dead letter right away, with the reason.
    assert d.status == Delivery.Status.DEAD and "HTTP 500" in d.last_error
