"""Organizations that existed before alerts get what new ones start with."""
from django.db import migrations

RULES = (
    {"name": "Proxy overhead p95 over 80 ms", "kind": "proxy_overhead_p95", "threshold": 80.0, "window_minutes": 10},
    {"name": "5xx rate over 1 %", "kind": "server_error_rate", "threshold": 1.0, "window_minutes": 5},
    {"name": "Fallback queue over 1,000 rows", "kind": "fallback_queue", "threshold": 1000.0, "window_minutes": 30},
    {"name": "Truncated streams over 5 %", "kind": "truncated_streams", "threshold": 5.0, "window_minutes": 60},
)


def add_defaults(apps, schema_editor):
    Organization = apps.get_model("core", "Organization")
    Channel = apps.get_model("alerts", "Channel")
    AlertRule = apps.get_model("alerts", "AlertRule")
    for organization in Organization.objects.all():
        channel = Channel.objects.filter(organization=organization, is_default=True).first()
        if channel is None:
            channel = Channel.objects.create(organization=organization, kind="email", name="Owners' email",
                                             email_owners=True, is_default=True)
        for spec in RULES:
            if not AlertRule.objects.filter(organization=organization, name=spec["name"]).exists():
                rule = AlertRule.objects.create(organization=organization, is_default=True, min_requests=10,
                                                cooldown_minutes=60, **spec)
                rule.channels.add(channel)


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_alert_rules_channels_deliveries")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
