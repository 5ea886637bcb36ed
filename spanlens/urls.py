from django.contrib import admin
from django.urls import include, path, re_path

from dashboard import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("spanlens.docsite.urls")),
    path("", include("spanlens.home.urls")),
    path("", include("spanlens.openapi.urls")),
    path("", include("spanlens.traces.urls")),
    path("", include("spanlens.otel.urls")),
    path("", include("spanlens.metrics.urls")),
    path("", include("spanlens.backups.urls")),
    path("", include("spanlens.sharing.urls")),
    path("", include("spanlens.budgets.urls")),
    path("", include("spanlens.core.urls")),
    path("", include("evals.urls")),
    path("", include("spanlens.savings.urls")),
    path("", include("spanlens.anomalies.urls")),
    path("", include("spanlens.alerts.urls")),
    path("", include("dashboard.urls")),
    # Last: an /api/ path nothing above matched gets the API's JSON 404.
    re_path(r"^api/(?P<path>.*)$", api.not_found),
]

# Error pages in the product's layout (JSON on /api/ paths).
handler403 = "dashboard.errors.permission_denied"
handler404 = "dashboard.errors.page_not_found"
handler500 = "dashboard.errors.server_error"
