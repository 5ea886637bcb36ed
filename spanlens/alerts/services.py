"""Every write to alerts: rules, channels, notifications and their deliveries, tests and
redeliveries, and the entry points other parts of Spanlens call (fire_external,
notify_anomaly). Views and tasks call these; each change is audited."""
from __future__ import annotations

import re
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from spanlens.alerts import delivery as delivery_mod
from spanlens.alerts import signing, targets
from spanlens.alerts.kinds import KINDS
from spanlens.alerts.models import AlertKey, AlertRule, Channel, Delivery, Notification
from spanlens.core import audit, crypto
from spanlens.core.models import ApiKey, Organization, Project

EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
MAX_WINDOW_MINUTES = 30 * 24 * 60
MAX_COOLDOWN_MINUTES = 7 * 24 * 60
MAX_EMAILS = 20


class AlertError(ValueError):
    """A value the form or API must fix; `field` names the input."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- channels --------------------------------------------------------------------------

def parse_emails(text: str) -> list[str]:
    emails = [e.strip() for e in re.split(r"[,;\s]+", text or "") if e.strip()]
    bad = [e for e in emails if not EMAIL_RE.match(e)]
    if bad:
        raise AlertError("email_to", f"not an email address: {bad[0]}")
    if len(emails) > MAX_EMAILS:
        raise AlertError("email_to", f"at most {MAX_EMAILS} addresses")
    return list(dict.fromkeys(emails))


def _clean_name(model, organization, name: str, exclude_id=None) -> str:
    name = (name or "").strip()
    if not name:
        raise AlertError("name", "give it a name")
    if len(name) > 200:
        raise AlertError("name", "at most 200 characters")
    if model.objects.filter(organization=organization, name=name).exclude(id=exclude_id).exists():
        raise AlertError("name", f"“{name}” is taken in this organization")
    return name


def _set_target(channel: Channel, *, email_to: str, email_owners: bool, url: str) -> None:
    if channel.kind == Channel.Kind.EMAIL:
        channel.email_to = parse_emails(email_to)
        channel.email_owners = bool(email_owners)
        if not channel.email_to and not channel.email_owners:
            raise AlertError("email_to", "add an address, or send to the owners")
        return
    if url.strip() or not channel.encrypted_url:
        try:
            clean = targets.check_url(url)
        except ValueError as exc:
            raise AlertError("url", str(exc)) from None
        channel.encrypted_url = crypto.encrypt(clean)
        channel.url_hint = targets.hint(clean)[:200]


def create_channel(organization: Organization, *, kind: str, name: str, email_to: str = "",
                   email_owners: bool = False, url: str = "", actor=None, ip: str | None = None,
                   is_default: bool = False) -> tuple[Channel, str | None]:
    """(channel, signing secret to show once — webhooks only)."""
    if kind not in Channel.Kind.values:
        raise AlertError("kind", f"must be one of {', '.join(Channel.Kind.values)}")
    channel = Channel(organization=organization, kind=kind, is_default=is_default,
                      name=_clean_name(Channel, organization, name))
    _set_target(channel, email_to=email_to, email_owners=email_owners, url=url)
    secret = None
    if kind == Channel.Kind.WEBHOOK:
        secret = signing.new_secret()
        channel.encrypted_secret = crypto.encrypt(secret)
    channel.save()
    audit.record(organization, "alert_channel.create", actor=actor, ip=ip, target=channel,
                 details={"kind": kind, "target": channel.target_label})
    return channel, secret


def update_channel(channel: Channel, *, name: str, email_to: str = "", email_owners: bool = False, url: str = "",
                   is_active: bool = True, actor=None, ip: str | None = None) -> Channel:
    """An empty URL keeps the stored one (it is never shown again)."""
    channel.name = _clean_name(Channel, channel.organization, name, exclude_id=channel.id)
    _set_target(channel, email_to=email_to, email_owners=email_owners, url=url)
    channel.is_active = is_active
    channel.save()
    audit.record(channel.organization_id, "alert_channel.update", actor=actor, ip=ip, target=channel,
                 details={"target": channel.target_label, "active": is_active})
    return channel


def rotate_channel_secret(channel: Channel, *, actor=None, ip: str | None = None) -> str:
    if channel.kind != Channel.Kind.WEBHOOK:
        raise AlertError("kind", "only webhook channels sign their deliveries")
    secret = signing.new_secret()
    channel.encrypted_secret = crypto.encrypt(secret)
    channel.save(update_fields=["encrypted_secret", "updated_at"])
    audit.record(channel.organization_id, "alert_channel.rotate_secret", actor=actor, ip=ip, target=channel)
    return secret


def delete_channel(channel: Channel, *, actor=None, ip: str | None = None) -> None:
    audit.record(channel.organization_id, "alert_channel.delete", actor=actor, ip=ip, target=channel)
    channel.delete()


# --- rules -----------------------------------------------------------------------------

def _number(field: str, value, *, low: float, high: float, whole: bool = False):
    try:
        number = float(str(value).strip().replace(",", ""))
    except (TypeError, ValueError):
        raise AlertError(field, "must be a number") from None
    if number != number or not (low <= number <= high):  # NaN, out of range
        raise AlertError(field, f"must be between {low:g} and {high:g}")
    if whole:
        if number != int(number):
            raise AlertError(field, "must be a whole number")
        return int(number)
    return number


THRESHOLD_RANGES = {"percent": (0, 100), "score": (0, 1), "usd": (0, 1e9), "ms": (0, 1e7), "count": (0, 1e9)}


def save_rule(organization: Organization, rule: AlertRule | None = None, *, name: str, kind: str,
              threshold="", window_minutes="", min_requests="", cooldown_minutes="", project_id: str = "",
              end_user: str = "", api_key_id: str = "", evaluator_id: str = "", channel_ids=(),
              is_enabled: bool = True, actor=None, ip: str | None = None) -> AlertRule:
    """Create (rule=None) or update a rule; AlertError names the first field to fix."""
    creating = rule is None
    if kind not in KINDS:
        raise AlertError("kind", "choose what the rule watches")
    spec = KINDS[kind]
    rule = rule or AlertRule(organization=organization, created_by=actor if getattr(actor, "pk", None) else None)
    rule.name = _clean_name(AlertRule, organization, name, exclude_id=None if creating else rule.id)
    if not creating and kind != rule.kind:
        # A new kind is a new condition: the old state says nothing about it.
        rule.state, rule.state_since, rule.breach_since, rule.notified = AlertRule.State.OK, None, None, False
    rule.kind = kind
    if spec.uses_threshold:
        if str(threshold).strip() == "":
            raise AlertError("threshold", "give a threshold")
        low, high = THRESHOLD_RANGES[spec.unit]
        rule.threshold = _number("threshold", threshold, low=low, high=high)
    else:
        rule.threshold = spec.default_threshold
    rule.window_minutes = (_number("window_minutes", window_minutes, low=1, high=MAX_WINDOW_MINUTES, whole=True)
                           if spec.uses_window else spec.default_window)
    rule.min_requests = (_number("min_requests", min_requests or 10, low=1, high=1_000_000, whole=True)
                         if spec.uses_min_requests else 10)
    rule.cooldown_minutes = _number("cooldown_minutes", cooldown_minutes if str(cooldown_minutes).strip() else 60,
                                    low=0, high=MAX_COOLDOWN_MINUTES, whole=True)
    rule.project = _scoped(Project, organization, project_id, "project") if "project" in spec.scopes else None
    rule.end_user = (end_user or "").strip()[:200] if "end_user" in spec.scopes else ""
    rule.api_key = _scoped(ApiKey, organization, api_key_id, "api_key") if "api_key" in spec.scopes else None
    if "evaluator" in spec.scopes:
        from evals.models import Evaluator

        rule.evaluator = _scoped(Evaluator, organization, evaluator_id, "evaluator")
        if rule.evaluator is None:
            raise AlertError("evaluator", "choose the evaluator whose score to watch")
    else:
        rule.evaluator = None
    channel_ids = [str(c) for c in channel_ids if str(c).strip()]
    channels = list(Channel.objects.filter(organization=organization, id__in=_uuids(channel_ids, "channels")))
    if len(channels) != len(set(channel_ids)):
        raise AlertError("channels", "no such channel")
    rule.is_enabled = bool(is_enabled)
    with transaction.atomic():
        try:
            rule.save()
        except IntegrityError:
            raise AlertError("name", f"“{rule.name}” is taken in this organization") from None
        rule.channels.set(channels)
        audit.record(organization, "alert_rule.create" if creating else "alert_rule.update", actor=actor, ip=ip,
                     target=rule, details={"kind": kind, "threshold": rule.threshold,
                                           "window_minutes": rule.window_minutes,
                                           "channels": [c.name for c in channels], "enabled": rule.is_enabled})
    return rule


def _uuids(values, field: str) -> list[str]:
    import uuid

    try:
        return [str(uuid.UUID(v)) for v in values]
    except ValueError:
        raise AlertError(field, "no such item") from None


def _scoped(model, organization, object_id: str, field: str):
    if not (object_id or "").strip():
        return None
    obj = model.objects.filter(organization=organization, id__in=_uuids([object_id.strip()], field)).first()
    if obj is None:
        raise AlertError(field, "no such item in this organization")
    return obj


def set_rule_enabled(rule: AlertRule, enabled: bool, *, actor=None, ip: str | None = None) -> AlertRule:
    rule.is_enabled = enabled
    if not enabled:
        rule.state, rule.state_since, rule.breach_since, rule.notified = AlertRule.State.OK, None, None, False
    rule.save()
    audit.record(rule.organization_id, "alert_rule.enable" if enabled else "alert_rule.disable", actor=actor, ip=ip,
                 target=rule)
    return rule


def delete_rule(rule: AlertRule, *, actor=None, ip: str | None = None) -> None:
    audit.record(rule.organization_id, "alert_rule.delete", actor=actor, ip=ip, target=rule)
    rule.delete()


# --- notifications and deliveries --------------------------------------------------------

def notify(organization: Organization, *, channels: list[Channel], event: str, title: str, text: str = "",
           rule: AlertRule | None = None, kind: str = "", value: float | None = None,
           threshold: float | None = None, fields=(), url: str = "", key: str = "",
           max_attempts: int | None = None) -> Notification:
    """Record a notification and queue one delivery per channel (sent after commit)."""
    from django.conf import settings

    with transaction.atomic():
        notification = Notification.objects.create(
            organization=organization, rule=rule, event=event, kind=kind or (rule.kind if rule else ""),
            title=title[:300], text=text, value=value, threshold=threshold,
            fields=[[str(k), str(v)] for k, v in fields], url=url[:500], key=key[:200])
        deliveries = [Delivery.objects.create(organization=organization, notification=notification, channel=channel,
                                              max_attempts=max_attempts or settings.ALERT_MAX_ATTEMPTS)
                      for channel in channels]
        delivery_mod.enqueue([d.id for d in deliveries])
    return notification


def send_test(channel: Channel, *, actor=None, ip: str | None = None) -> Delivery:
    """A test message, sent now (one attempt: the page shows the outcome at once)."""
    from django.conf import settings

    who = actor.get_username() if getattr(actor, "pk", None) else "Spanlens"
    with transaction.atomic():
        notification = Notification.objects.create(
            organization=channel.organization, event=Notification.Event.TEST, kind="test",
            title=f"Test message for “{channel.name}”",
            text=f"{who} sent this test from Spanlens. If you can read it, alerts reach this channel.",
            fields=[["Channel", channel.get_kind_display()], ["Organization", channel.organization.name]],
            url=f"{settings.WEB_URL}/alerts/channels/")
        delivery = Delivery.objects.create(organization=channel.organization, notification=notification,
                                           channel=channel, max_attempts=1)
    audit.record(channel.organization_id, "alert_channel.test", actor=actor, ip=ip, target=channel)
    delivery_mod.attempt(str(delivery.id))
    delivery.refresh_from_db()
    return delivery


def redeliver(delivery: Delivery, *, actor=None, ip: str | None = None) -> Delivery:
    """A dead letter goes out again with a fresh set of attempts."""
    if delivery.status != Delivery.Status.DEAD:
        raise AlertError("delivery", "only dead letters can be redelivered")
    from django.conf import settings

    with transaction.atomic():
        Delivery.objects.filter(id=delivery.id, status=Delivery.Status.DEAD).update(
            status=Delivery.Status.PENDING, attempts=0, next_attempt_at=None,
            max_attempts=max(delivery.max_attempts, settings.ALERT_MAX_ATTEMPTS))
        audit.record(delivery.organization_id, "alert_delivery.redeliver", actor=actor, ip=ip,
                     target=delivery.channel, details={"delivery": str(delivery.id)})
        delivery_mod.enqueue([delivery.id])
    delivery.refresh_from_db()
    return delivery


def recent_deliveries(*, organization_id, limit: int = 5) -> list[dict]:
    """The newest deliveries of an organization, as plain dicts (the home page's list)."""
    rows = (Delivery.objects.filter(organization_id=organization_id)
            .select_related("notification", "channel").order_by("-created_at")[:limit])
    return [{
        "id": str(d.id), "status": d.status, "status_label": d.get_status_display(),
        "event": d.notification.event, "title": d.notification.title, "channel": d.channel.name,
        "channel_kind": d.channel.kind, "created_at": d.created_at, "delivered_at": d.delivered_at,
        "attempts": d.attempts, "error": d.last_error, "url": "/alerts/deliveries/",
    } for d in rows]


# --- alerts raised elsewhere -----------------------------------------------------------------

def fire_external(organization_id, kind: str, title: str, detail: str, key: str, *, cooldown_minutes: int = 60,
                  fields=(), url: str = "", value: float | None = None, fallback_to_default: bool = True
                  ) -> Notification | None:
    """A one-off alert from another part of Spanlens (a budget at 80 %, an anomaly).

    It goes to the channels of the organization's enabled rules of that `kind`; with no such
    rule, to its default channels (the owners' email) unless fallback_to_default is off.
    Within `cooldown_minutes` of the last alert with the same `key` nothing is sent (None).
    """
    organization = Organization.objects.filter(id=organization_id).first()
    if organization is None:
        return None
    now = timezone.now()
    with transaction.atomic():
        marker, created = AlertKey.objects.get_or_create(organization=organization, key=key[:200],
                                                         defaults={"last_fired_at": now})
        if not created:
            # One conditional UPDATE: of two callers racing, exactly one wins the slot.
            won = AlertKey.objects.filter(id=marker.id, last_fired_at__lte=now - timedelta(minutes=cooldown_minutes)
                                          ).update(last_fired_at=now)
            if not won:
                return None
        rules = list(AlertRule.objects.filter(organization=organization, kind=kind, is_enabled=True)
                     .prefetch_related("channels"))
        channels = {c.id: c for r in rules for c in r.channels.all() if c.is_active}
        if not rules and fallback_to_default:
            channels = {c.id: c for c in Channel.objects.filter(organization=organization, is_default=True,
                                                                  is_active=True)}
        return notify(organization, channels=list(channels.values()), event=Notification.Event.ALERT, title=title,
                      text=detail, rule=rules[0] if len(rules) == 1 else None, kind=kind, value=value,
                      fields=fields, url=url, key=key)


def notify_anomaly(anomaly) -> Notification | None:
    """An anomaly opened: tell the channels of the organization's "Any anomaly" rules.

    Takes the anomaly or its id; reads organization_id, id and a title/summary from it."""
    if isinstance(anomaly, (str, int)) or hasattr(anomaly, "hex"):
        try:
            from spanlens.anomalies.models import Anomaly  # type: ignore[import-not-found]
        except ImportError:
            return None
        anomaly = Anomaly.objects.filter(id=anomaly).first()
        if anomaly is None:
            return None
    title = getattr(anomaly, "title", None) or getattr(anomaly, "summary", None) or "Anomaly detected"
    detail = getattr(anomaly, "detail", None) or getattr(anomaly, "description", "") or ""
    from django.conf import settings

    return fire_external(anomaly.organization_id, "anomaly", str(title), str(detail), f"anomaly:{anomaly.id}",
                         cooldown_minutes=24 * 60, url=f"{settings.WEB_URL}/anomalies/", fallback_to_default=False)
