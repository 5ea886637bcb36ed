from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        # Pages watching /requests live hear of each batch once it is in the log.
        from dashboard.live import announce
        from spanlens.requestlog.writer import register_after_write

        register_after_write(announce)
