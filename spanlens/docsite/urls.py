from django.urls import path, re_path

from spanlens.docsite import views

urlpatterns = [
    path("docs/", views.docs, name="docs"),
    re_path(r"^docs/(?P<path>.+)$", views.docs),
]
