"""What a new organization starts with: the owners' email channel and the four rules of the
scaling guide's "What to monitor" table."""
from __future__ import annotations

from spanlens.alerts.kinds import DEFAULT_RULES

OWNERS_CHANNEL = "Owners' email"


def create_defaults(organization) -> None:
    from spanlens.alerts.models import AlertRule, Channel

    channel = Channel.objects.filter(organization=organization, is_default=True).first()
    if channel is None:
        channel = Channel.objects.create(organization=organization, kind=Channel.Kind.EMAIL, name=OWNERS_CHANNEL,
                                         email_owners=True, is_default=True)
    for spec in DEFAULT_RULES:
        if AlertRule.objects.filter(organization=organization, name=spec["name"]).exists():
            continue
        rule = AlertRule.objects.create(organization=organization, is_default=True,
                                        min_requests=10, cooldown_minutes=60, **spec)
        rule.channels.add(channel)


def on_organization_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if created and not raw:
        create_defaults(instance)
