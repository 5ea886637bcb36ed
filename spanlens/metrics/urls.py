from django.urls import path

from spanlens.metrics import views

urlpatterns = [path("metrics", views.metrics, name="metrics")]
