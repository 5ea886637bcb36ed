from django.urls import path

from spanlens.savings import views

urlpatterns = [
    path("savings/", views.savings_page, name="savings"),
]
