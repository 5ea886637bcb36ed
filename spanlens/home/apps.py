from django.apps import AppConfig


class HomeConfig(AppConfig):
    name = "spanlens.home"
    label = "home"
    verbose_name = "Home"
