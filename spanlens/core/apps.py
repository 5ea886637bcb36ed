from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "spanlens.core"
    label = "core"
    verbose_name = "Spanlens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from spanlens.core import rls

        post_migrate.connect(rls.after_migrate, dispatch_uid="spanlens-rls")
