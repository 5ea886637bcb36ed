from django.urls import path

from spanlens.otel import views

urlpatterns = [
    # Where OTLP/HTTP exporters send spans: <endpoint>/v1/traces.
    path("v1/traces", views.receive_traces, name="otlp-traces"),
]
