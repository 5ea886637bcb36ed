from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("spanlens.traces.urls")),
    path("", include("spanlens.sharing.urls")),
    path("", include("spanlens.core.urls")),
    path("", include("evals.urls")),
    path("", include("dashboard.urls")),
]
