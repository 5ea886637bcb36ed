from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "spanlens.core"
    label = "core"
    verbose_name = "Spanlens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_migrate

        from spanlens.core import rls, throttle

        post_migrate.connect(rls.after_migrate, dispatch_uid="spanlens-rls")
        user_locked_out.connect(throttle.record_lockout, dispatch_uid="spanlens-lockout-audit")
        user_logged_out.connect(_sign_out_of_supabase, dispatch_uid="spanlens-supabase-sign-out")


def _sign_out_of_supabase(sender, request=None, **kwargs) -> None:
    # Imported when someone signs out, not at start-up: supabase_auth brings httpx, PyJWT and
    # the OIDC client (requests), ~20 MB in every process (web, log builder, workers) that
    # would otherwise never use them.
    from django.conf import settings

    if settings.SUPABASE_URL and settings.SUPABASE_ANON_KEY:
        from spanlens.core import supabase_auth

        supabase_auth.sign_out_on_logout(request)
