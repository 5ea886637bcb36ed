from django.apps import AppConfig


class AnomaliesConfig(AppConfig):
    name = "spanlens.anomalies"
    label = "anomalies"
    default_auto_field = "django.db.models.BigAutoField"
