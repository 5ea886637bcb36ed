from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard import api, security_views, session_views, settings_views, views
from spanlens.core.views.login import SignInView

urlpatterns = [
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("switch/", views.switch_org, name="switch_org"),
    path("requests/", views.requests_page, name="requests"),
    path("requests/export.csv", views.export_requests, {"fmt": "csv"}, name="export_csv"),
    path("requests/export.jsonl", views.export_requests, {"fmt": "jsonl"}, name="export_jsonl"),
    path("requests/<str:request_id>/", views.request_detail, name="request_detail"),
    path("requests/<str:request_id>/drawer/", views.request_drawer, name="request_drawer"),
    path("requests/<str:request_id>/replay/", views.replay_modal, name="replay_modal"),
    path("users/", views.users_page, name="users"),
    path("sessions/", session_views.sessions_page, name="sessions"),
    # Session ids are whatever the client sent, slashes included.
    path("sessions/<path:session_id>/", session_views.session_detail, name="session_detail"),
    path("security/", security_views.security_page, name="security"),
    path("settings/", settings_views.settings_home, name="settings"),
    path("settings/projects/", settings_views.projects, name="settings_projects"),
    path("settings/api-keys/", settings_views.api_keys, name="settings_api_keys"),
    path("settings/api-keys/<str:key_id>/revoke/", settings_views.revoke_api_key, name="revoke_api_key"),
    path("settings/provider-keys/", settings_views.provider_keys, name="settings_provider_keys"),
    path("settings/provider-keys/<str:key_id>/", settings_views.provider_key_action, name="provider_key_action"),
    path("settings/prices/", settings_views.model_prices, name="settings_prices"),
    path("settings/sign-in/", settings_views.sign_in_settings, name="settings_sign_in"),
    path("api/v1/requests", api.list_requests, name="api_requests"),
    path("api/v1/requests/<str:request_id>", api.get_request, name="api_request"),
    path("api/v1/requests/<str:request_id>/replay", api.replay_snippet, name="api_replay"),
    path("api/v1/requests/<str:request_id>/replay/run", api.replay_run, name="api_replay_run"),
    path("favicon.ico", views.favicon, name="favicon"),
]
