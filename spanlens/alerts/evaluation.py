"""A rule's state from one reading: ok → pending → firing → ok, with a firing and a resolve
notification, and a cooldown between firing notifications so a flapping value does not
flood a channel. The only writer of a rule's state."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from spanlens.alerts.conditions import CONDITIONS
from spanlens.alerts.kinds import KINDS, condition_label
from spanlens.alerts.models import AlertRule

log = logging.getLogger("spanlens.alerts")
State = AlertRule.State


def evaluate_organization(organization_id: str) -> dict:
    outcomes: dict[str, str] = {}
    rule_ids = AlertRule.objects.filter(organization_id=organization_id, is_enabled=True,
                                        kind__in=list(CONDITIONS)).values_list("id", flat=True)
    for rule_id in rule_ids:
        outcomes[str(rule_id)] = evaluate_rule(str(rule_id))
    return outcomes


def evaluate_rule(rule_id: str) -> str:
    """Read the rule's condition and move its state; returns what happened
    (ok, pending, firing, fired, held, resolved, error)."""
    with transaction.atomic():
        # Locked, so two workers evaluating at once cannot both announce the same firing.
        rule = (AlertRule.objects.select_for_update(of=("self",))
                .select_related("organization", "evaluator").filter(id=rule_id, is_enabled=True).first())
        if rule is None or rule.kind not in CONDITIONS:
            return "skipped"
        now = timezone.now()
        rule.last_evaluated_at = now
        try:
            reading = CONDITIONS[rule.kind](rule)
        except Exception as exc:  # ClickHouse away, a deleted evaluator: say so on the rule, keep the state
            log.warning("alert rule %s could not be evaluated: %s", rule.id, exc)
            rule.last_error = str(exc)[:1000]
            rule.save(update_fields=["last_evaluated_at", "last_error", "updated_at"])
            return "error"
        rule.last_error = ""
        rule.last_value = reading.value
        rule.last_detail = reading.detail
        outcome = _step(rule, reading, now)
        rule.save()
    return outcome


def _step(rule: AlertRule, reading, now) -> str:
    kind = KINDS[rule.kind]
    if not reading.breached:
        rule.breach_since = None
        if rule.state == State.FIRING:
            if rule.notified:
                _announce(rule, reading, resolved=True)
            _set_state(rule, State.OK, now)
            rule.notified = False
            return "resolved"
        if rule.state != State.OK:
            _set_state(rule, State.OK, now)
        return "ok"
    if rule.breach_since is None:
        rule.breach_since = now
    if kind.sustained and now - rule.breach_since < timedelta(minutes=rule.window_minutes):
        if rule.state == State.OK:
            _set_state(rule, State.PENDING, now)
        return "pending"
    if rule.state != State.FIRING:
        _set_state(rule, State.FIRING, now)
        rule.notified = False
    if rule.notified:
        return "firing"
    cooldown = timedelta(minutes=rule.cooldown_minutes)
    if rule.last_fired_at is not None and now - rule.last_fired_at < cooldown:
        # Fired again soon after the last announcement: held until the cooldown ends, then
        # announced if it still holds (and never resolved aloud if it clears before).
        return "held"
    _announce(rule, reading, resolved=False)
    rule.notified = True
    rule.last_fired_at = now
    return "fired"


def _set_state(rule: AlertRule, state: str, now) -> None:
    rule.state = state
    rule.state_since = now


def _announce(rule: AlertRule, reading, *, resolved: bool) -> None:
    from spanlens.alerts import services

    kind = KINDS[rule.kind]
    text = reading.detail
    if resolved:
        text = f"Back within the rule ({condition_label(rule)}): {reading.detail}" if reading.detail else \
            f"Back within the rule ({condition_label(rule)})."
    services.notify(
        rule.organization, channels=list(rule.channels.filter(is_active=True)),
        event="resolved" if resolved else "firing", title=rule.name, text=text, rule=rule, kind=rule.kind,
        value=reading.value, threshold=rule.threshold if kind.uses_threshold else None,
        fields=[["Condition", condition_label(rule)], *reading.fields],
        url=f"{settings.WEB_URL}/alerts/{rule.id}/",
    )
