from django.urls import path

from spanlens.budgets import views

urlpatterns = [
    path("budgets/", views.budgets_page, name="budgets"),
]
