from django.db import migrations, models

import spanlens.core.models

ALL = ["proxy", "ingest", "read", "admin"]


def keep_all_scopes(apps, schema_editor):
    # Keys made before scopes existed could do everything; they still can.
    apps.get_model("core", "ApiKey").objects.update(scopes=ALL)


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0005_unpriced_models"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="scopes",
            field=models.JSONField(default=spanlens.core.models.all_scopes,
                                   help_text="What the key may do: proxy, ingest, read, admin."),
        ),
        migrations.AddField(
            model_name="apikey",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="apikey",
            name="allowed_ips",
            field=models.JSONField(blank=True, default=list,
                                   help_text="CIDRs the key may be used from; empty: any."),
        ),
        migrations.AddField(
            model_name="organization",
            name="password_login_disabled",
            field=models.BooleanField(default=False, db_default=False,
                                      help_text="Members must sign in through SSO; password sign-in is refused."),
        ),
        migrations.RunPython(keep_all_scopes, migrations.RunPython.noop),
    ]
