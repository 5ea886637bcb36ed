from django.urls import path

from spanlens.anomalies import views

urlpatterns = [
    path("anomalies/", views.anomalies_page, name="anomalies"),
    path("anomalies/<str:anomaly_id>/", views.anomaly_detail, name="anomaly"),
    path("anomalies/<str:anomaly_id>/acknowledge/", views.acknowledge, name="anomaly_acknowledge"),
]
