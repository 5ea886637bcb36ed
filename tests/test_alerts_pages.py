"""The alerts pages: rules with their form errors, channels with Send test, the delivery
log with redelivery; outsiders get 404 and viewers cannot change anything."""
from __future__ import annotations

import pytest
from django.test import Client

from spanlens.alerts import delivery, services
from spanlens.alerts.models import AlertRule, Channel, Delivery
from tests.webhook_receiver import WebhookReceiver


def _client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner, org):
    return _client(owner)


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


RULE_FORM = {"name": "Daily spend over $50", "kind": "spend", "threshold": "50", "window": "1", "window_unit": "d",
             "cooldown_minutes": "120", "is_enabled": "on"}


def test_the_rules_page_lists_the_default_rules(owner_client):
    page = owner_client.get("/alerts/")
    assert page.status_code == 200
    text = page.content.decode()
    for name in ("Proxy overhead p95 over 80 ms", "5xx rate over 1 %", "Fallback queue over 1,000 rows",
                 "Truncated streams over 5 %"):
        assert name in text
    assert "&gt; 80 ms over 10 min" in text and "&gt; 1,000 for 30 min" in text
    assert "Owners&#x27; email" in text


def test_a_rule_is_created_from_the_form(owner_client, org, project):
    channel = Channel.objects.get(organization=org, is_default=True)
    response = owner_client.post("/alerts/new/", {**RULE_FORM, "project": str(project.id),
                                                  "channels": [str(channel.id)]})
    assert response.status_code == 302 and response["Location"] == "/alerts/"
    rule = AlertRule.objects.get(organization=org, name="Daily spend over $50")
    assert (rule.kind, rule.threshold, rule.window_minutes, rule.cooldown_minutes) == ("spend", 50.0, 1440, 120)
    assert rule.project == project and list(rule.channels.all()) == [channel]
    page = owner_client.get(f"/alerts/{rule.id}/").content.decode()
    assert 'value="Daily spend over $50"' in page and 'value="d" selected' in page


def test_a_bad_rule_comes_back_with_the_field_marked(owner_client, org):
    response = owner_client.post("/alerts/new/", {**RULE_FORM, "threshold": "lots"})
    assert response.status_code == 400
    text = response.content.decode()
    assert 'data-error-for="threshold"' in text and "must be a number" in text
    assert 'value="Daily spend over $50"' in text  # what was typed is kept
    response = owner_client.post("/alerts/new/", {**RULE_FORM, "window": "0"})
    assert response.status_code == 400 and 'data-error-for="window_minutes"' in response.content.decode()
    response = owner_client.post("/alerts/new/", {**RULE_FORM, "kind": "eval_score", "threshold": "0.5"})
    assert response.status_code == 400 and 'data-error-for="evaluator"' in response.content.decode()
    assert not AlertRule.objects.filter(organization=org, name="Daily spend over $50").exists()


def test_a_rule_is_edited_paused_and_deleted(owner_client, org):
    rule = AlertRule.objects.get(organization=org, kind="server_error_rate")
    response = owner_client.post(f"/alerts/{rule.id}/", {"name": "5xx over 2 %", "kind": "server_error_rate",
                                                         "threshold": "2", "window": "5", "window_unit": "min",
                                                         "min_requests": "50", "cooldown_minutes": "30",
                                                         "is_enabled": "on"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.threshold, rule.min_requests) == ("5xx over 2 %", 2.0, 50)
    owner_client.post(f"/alerts/{rule.id}/toggle/")
    rule.refresh_from_db()
    assert not rule.is_enabled
    assert "Paused" in owner_client.get("/alerts/").content.decode()
    owner_client.post(f"/alerts/{rule.id}/", {"action": "delete"})
    assert not AlertRule.objects.filter(id=rule.id).exists()


def test_a_webhook_channel_shows_its_secret_once_and_sends_a_test(owner_client, org, receiver):
    response = owner_client.post("/alerts/channels/", {"kind": "webhook", "name": "On-call",
                                                       "url": f"{receiver.url}/hook?token=abc"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "data-new-secret" in text and "whsec_" in text
    channel = Channel.objects.get(organization=org, name="On-call")
    assert "token=abc" not in owner_client.get("/alerts/channels/").content.decode()  # the URL is a credential
    assert "whsec_" not in owner_client.get("/alerts/channels/").content.decode()
    response = owner_client.post(f"/alerts/channels/{channel.id}/", {"action": "test"}, follow=True)
    assert "Test sent to “On-call” (HTTP 200)." in response.content.decode()
    assert receiver.received[0]["path"] == "/hook?token=abc"
    receiver.then = 500
    response = owner_client.post(f"/alerts/channels/{channel.id}/", {"action": "test"}, follow=True)
    assert "failed: HTTP 500" in response.content.decode()


def test_a_bad_channel_comes_back_with_the_error(owner_client, org):
    response = owner_client.post("/alerts/channels/", {"kind": "slack", "name": "#x",
                                                       "url": "http://169.254.169.254/latest"})
    assert response.status_code == 400 and "metadata" in response.content.decode()
    response = owner_client.post("/alerts/channels/", {"kind": "email", "name": "Ops", "email_to": "nope"})
    assert response.status_code == 400 and "not an email address: nope" in response.content.decode()
    assert not Channel.objects.filter(organization=org, name__in=["#x", "Ops"]).exists()


def test_the_delivery_log_lists_dead_letters_and_redelivers_them(owner_client, org, receiver):
    channel, _ = services.create_channel(org, kind="webhook", name="Hook", url=f"{receiver.url}/h")
    receiver.then = 404
    n = services.notify(org, channels=[channel], event="firing", title="Spend over $50", text="$72 spent")
    d = n.deliveries.get()
    assert delivery.attempt(str(d.id)) == "dead"
    page = owner_client.get("/alerts/deliveries/?status=dead").content.decode()
    assert "Spend over $50" in page and "Dead letter" in page and "data-redeliver" in page
    assert 'title="Dead letters">1<' in page
    response = owner_client.post(f"/alerts/deliveries/{d.id}/redeliver/", {"next": "/alerts/deliveries/?status=dead"})
    assert response.status_code == 302 and response["Location"] == "/alerts/deliveries/?status=dead"
    d.refresh_from_db()
    assert d.status == Delivery.Status.PENDING


def test_outsiders_get_404_on_every_rule_channel_and_delivery(org, outsider, other_org_and_project):
    rule = AlertRule.objects.filter(organization=org).first()
    channel = Channel.objects.get(organization=org, is_default=True)
    d = services.notify(org, channels=[channel], event="firing", title="secret rule title").deliveries.get()
    client = _client(outsider)
    assert client.get(f"/alerts/{rule.id}/").status_code == 404
    assert client.post(f"/alerts/{rule.id}/", {"action": "delete"}).status_code == 404
    assert client.post(f"/alerts/{rule.id}/toggle/").status_code == 404
    assert client.post(f"/alerts/channels/{channel.id}/", {"action": "delete"}).status_code == 404
    assert client.post(f"/alerts/channels/{channel.id}/", {"action": "test"}).status_code == 404
    assert client.post(f"/alerts/deliveries/{d.id}/redeliver/").status_code == 404
    assert client.get("/alerts/not-a-uuid/").status_code == 404
    # Their own pages show their own organization only.
    assert "secret rule title" not in client.get("/alerts/deliveries/").content.decode()
    assert AlertRule.objects.filter(id=rule.id).exists() and Channel.objects.filter(id=channel.id).exists()


def test_viewers_read_but_cannot_change(org, viewer):
    client = _client(viewer)
    rule = AlertRule.objects.filter(organization=org).first()
    page = client.get("/alerts/").content.decode()
    assert "data-readonly" in page and "data-new-rule" not in page
    assert client.post("/alerts/new/", RULE_FORM).status_code == 403
    assert client.post(f"/alerts/{rule.id}/toggle/").status_code == 403
    assert client.post("/alerts/channels/", {"kind": "email", "name": "x", "email_owners": "on"}).status_code == 403
    assert client.get("/alerts/channels/").status_code == 200 and client.get("/alerts/deliveries/").status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(db):
    response = Client().get("/alerts/")
    assert response.status_code == 302 and "/login/" in response["Location"]
