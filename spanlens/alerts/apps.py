from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "spanlens.alerts"
    label = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from spanlens.alerts.defaults import on_organization_saved
        from spanlens.core.models import Organization

        # Every way an organization comes to exist (sign-up, SSO, bootstrap, admin) gets the
        # monitoring rules of the scaling guide, so nobody starts unwatched.
        post_save.connect(on_organization_saved, sender=Organization, dispatch_uid="alerts-default-rules")
