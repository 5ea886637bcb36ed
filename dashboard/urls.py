from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("switch/", views.switch_org, name="switch_org"),
    path("traces/", views.traces, name="traces"),
    path("prompts/", views.prompts, name="prompts"),
    path("evals/", views.evals, name="evals"),
]
