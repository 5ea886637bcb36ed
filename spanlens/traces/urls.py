from django.urls import path, re_path

from spanlens.traces import api, views

urlpatterns = [
    path("api/v1/ingest", api.ingest, name="api-ingest"),
    path("api/v1/traces", api.traces, name="api-traces"),
    path("api/v1/traces/<str:trace_id>", api.trace_detail, name="api-trace-detail"),
    path("api/v1/spans", api.spans, name="api-spans"),
    # With or without the trailing slash, like the other dashboard pages.
    re_path(r"^traces/?$", views.trace_list, name="trace-list"),
    re_path(r"^traces/(?P<trace_id>[^/]+)/?$", views.trace_detail, name="trace-detail"),
]
