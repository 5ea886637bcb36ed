from django.urls import re_path

from spanlens.alerts import views

urlpatterns = [
    re_path(r"^alerts/?$", views.rule_list, name="alerts"),
    re_path(r"^alerts/new/?$", views.rule_new, name="alert-rule-new"),
    re_path(r"^alerts/channels/?$", views.channel_list, name="alert-channels"),
    re_path(r"^alerts/channels/(?P<channel_id>[^/]+)/?$", views.channel_action, name="alert-channel-action"),
    re_path(r"^alerts/deliveries/?$", views.delivery_list, name="alert-deliveries"),
    re_path(r"^alerts/deliveries/(?P<delivery_id>[^/]+)/redeliver/?$", views.delivery_redeliver,
            name="alert-redeliver"),
    re_path(r"^alerts/(?P<rule_id>[^/]+)/toggle/?$", views.rule_toggle, name="alert-rule-toggle"),
    re_path(r"^alerts/(?P<rule_id>[^/]+)/?$", views.rule_edit, name="alert-rule"),
]
