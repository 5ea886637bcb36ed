from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "spanlens.sharing"
    label = "sharing"
    default_auto_field = "django.db.models.BigAutoField"
