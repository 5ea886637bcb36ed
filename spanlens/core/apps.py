from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "spanlens.core"
    label = "core"
    verbose_name = "Spanlens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.db.models.signals import post_migrate

        from spanlens.core import rls, supabase_auth, throttle  # noqa: F401  (supabase_auth: sign-out signal)

        post_migrate.connect(rls.after_migrate, dispatch_uid="spanlens-rls")
        user_locked_out.connect(throttle.record_lockout, dispatch_uid="spanlens-lockout-audit")
