from django.urls import path

from spanlens.sharing import views

urlpatterns = [
    path("views/", views.save_view, name="save_view"),
    path("views/<str:view_id>/", views.view_action, name="view_action"),
    path("shares/", views.shares_page, name="shares"),
    path("shares/new/", views.create_share, name="create_share"),
    path("shares/<str:share_id>/revoke/", views.revoke_share, name="revoke_share"),
    path("s/<str:token>/", views.open_share, name="open_share"),
]
