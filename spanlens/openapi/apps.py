from django.apps import AppConfig


class OpenApiConfig(AppConfig):
    name = "spanlens.openapi"
    label = "openapi"
    verbose_name = "API description"
