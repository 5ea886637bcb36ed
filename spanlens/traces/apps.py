from django.apps import AppConfig


class TracesConfig(AppConfig):
    name = "spanlens.traces"
    label = "traces"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Proxied calls made inside a trace fill their span's request id, tokens and
        # cost once the request row is in the log (idempotent, so a second caller is harmless).
        from spanlens.requestlog.writer import register_after_write
        from spanlens.traces.services import link_logged_requests

        register_after_write(link_logged_requests)
