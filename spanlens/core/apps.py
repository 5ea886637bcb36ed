from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "spanlens.core"
    label = "core"
    verbose_name = "Spanlens"
    default_auto_field = "django.db.models.BigAutoField"
