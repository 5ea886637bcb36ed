from django.urls import path

from spanlens.openapi import views

urlpatterns = [
    path("api/v1/openapi.json", views.openapi_json, name="api-openapi"),
    path("api/v1/docs", views.docs, name="api-docs"),
]
