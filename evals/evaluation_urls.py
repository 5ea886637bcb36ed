from django.urls import path

from dashboard import views

urlpatterns = [
    path("evals/", views.evals, name="evals"),
]
