from django.contrib import admin
from django.urls import include, path, re_path

from dashboard import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("spanlens.openapi.urls")),
    path("", include("spanlens.traces.urls")),
    path("", include("spanlens.sharing.urls")),
    path("", include("spanlens.core.urls")),
    path("", include("evals.urls")),
    path("", include("dashboard.urls")),
    # Last: an /api/ path nothing above matched gets the API's JSON 404.
    re_path(r"^api/(?P<path>.*)$", api.not_found),
]
