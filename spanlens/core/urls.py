from django.urls import path

from spanlens.core.views import health

urlpatterns = [
    path("health/ready", health.ready, name="health_ready"),
    path("health/deep", health.deep, name="health_deep"),
]
