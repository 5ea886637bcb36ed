from django.urls import path

from spanlens.home import views

urlpatterns = [
    path("", views.home, name="home"),
]
