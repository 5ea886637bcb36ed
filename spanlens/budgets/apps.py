from django.apps import AppConfig


class BudgetsConfig(AppConfig):
    name = "spanlens.budgets"
    label = "budgets"
    default_auto_field = "django.db.models.BigAutoField"
