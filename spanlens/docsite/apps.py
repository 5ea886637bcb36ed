from django.apps import AppConfig


class DocsiteConfig(AppConfig):
    name = "spanlens.docsite"
    label = "docsite"
    verbose_name = "Documentation site"
