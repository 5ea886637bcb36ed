from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path

urlpatterns = [
    path("admin/", admin.site.urls),
    # One process serves everything in the self-hosted default; the dashboard's
    # few static files are small, versioned by name and cheap to serve from Django.
    re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}),
    path("", include("dashboard.urls")),
]
