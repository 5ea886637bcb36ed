"""Sending one delivery on its channel: email through Django's mail, Slack, Discord and
signed webhooks over HTTP. Raises Retry or GiveUp; returns the HTTP status on success."""
from __future__ import annotations

import orjson
from django.conf import settings

from spanlens.alerts import payloads, signing, targets
from spanlens.alerts.models import Channel


class Retry(Exception):
    """A failure that may pass: timeouts, refused connections, 5xx, 429."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class GiveUp(Exception):
    """A failure that retrying cannot fix: a refused URL, a removed webhook (404), bad config."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


# Statuses that say "later": request timeout, too early, rate limited; 5xx besides.
RETRY_STATUSES = frozenset({408, 425, 429})


def send(delivery) -> int | None:
    channel = delivery.channel
    if channel.kind == Channel.Kind.EMAIL:
        return _send_email(delivery)
    from spanlens.core import crypto

    url = crypto.decrypt(channel.encrypted_url) if channel.encrypted_url else ""
    try:
        url = targets.check_url(url)
    except ValueError as exc:
        raise GiveUp(str(exc)) from None
    notification, organization = delivery.notification, delivery.organization
    headers = {"Content-Type": "application/json", "User-Agent": "Spanlens-Alerts/1"}
    if channel.kind == Channel.Kind.SLACK:
        body = orjson.dumps(payloads.slack(notification, organization.name))
    elif channel.kind == Channel.Kind.DISCORD:
        body = orjson.dumps(payloads.discord(notification, organization.name))
    else:
        body = orjson.dumps(payloads.webhook(notification, organization))
        secret = crypto.decrypt(channel.encrypted_secret)
        headers.update(signing.headers(secret, body, delivery_id=str(delivery.id),
                                       event=f"alert.{notification.event}"))
    return _post(url, body, headers)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    import httpx

    try:
        # Redirects are not followed: the checked URL is the only place a delivery goes.
        response = httpx.post(url, content=body, headers=headers, timeout=settings.ALERT_HTTP_TIMEOUT_S,
                              follow_redirects=False)
    except httpx.TimeoutException:
        raise Retry(f"no answer within {settings.ALERT_HTTP_TIMEOUT_S:g} s") from None
    except httpx.HTTPError as exc:
        raise Retry(f"could not connect: {exc}") from None
    status = response.status_code
    if 200 <= status < 300:
        return status
    detail = f"HTTP {status}: {response.text[:300].strip()}".rstrip(": ")
    if status >= 500 or status in RETRY_STATUSES:
        raise Retry(detail, status)
    if 300 <= status < 400:
        raise GiveUp(f"HTTP {status}: the receiver redirects, and deliveries do not follow redirects", status)
    raise GiveUp(detail, status)


def email_recipients(channel) -> list[str]:
    from spanlens.core.models import Membership

    recipients = list(channel.email_to)
    if channel.email_owners:
        owners = (Membership.objects.filter(organization_id=channel.organization_id, role=Membership.Role.OWNER)
                  .exclude(user__email="").values_list("user__email", flat=True))
        recipients += [e for e in owners if e not in recipients]
    return recipients


def _send_email(delivery) -> None:
    from django.core.mail import EmailMessage

    from spanlens.core import emails

    if not emails.enabled():
        raise GiveUp("email is not configured: set RESEND_API_KEY (Resend) or EMAIL_HOST (SMTP)")
    recipients = email_recipients(delivery.channel)
    if not recipients:
        raise GiveUp("no recipient: add addresses to the channel, or give the owners an email address")
    subject, text = payloads.email(delivery.notification, delivery.organization.name)
    try:
        EmailMessage(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients).send()
    except Exception as exc:  # provider down, rate limited, sender not verified: all may pass
        raise Retry(f"the mail server refused: {exc}"[:500]) from None
    return None
