from django.urls import path

from spanlens.traces import api, views

urlpatterns = [
    path("api/v1/ingest", api.ingest, name="api-ingest"),
    path("api/v1/traces", api.traces, name="api-traces"),
    path("api/v1/traces/<str:trace_id>", api.trace_detail, name="api-trace-detail"),
    path("api/v1/spans", api.spans, name="api-spans"),
    path("traces", views.trace_list, name="trace-list"),
    path("traces/<str:trace_id>", views.trace_detail, name="trace-detail"),
]
