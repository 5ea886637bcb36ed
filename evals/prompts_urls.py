from django.urls import path

from dashboard import views

urlpatterns = [
    path("prompts/", views.prompts, name="prompts"),
]
