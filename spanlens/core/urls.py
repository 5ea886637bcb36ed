from django.urls import include, path

from spanlens.core.views import api, audit, health, invite, login, members

urlpatterns = [
    path("health/ready", health.ready, name="health_ready"),
    path("health/deep", health.deep, name="health_deep"),
    path("settings/members/", members.members_page, name="members"),
    path("settings/members/invite", members.invite, name="members_invite"),
    path("settings/members/<int:member_id>/role", members.change_role, name="members_role"),
    path("settings/members/<int:member_id>/remove", members.remove, name="members_remove"),
    path("settings/members/invitations/<uuid:invitation_id>/revoke", members.revoke_invitation,
         name="invitation_revoke"),
    path("settings/audit/", audit.audit_page, name="audit"),
    path("invite/<str:token>/", invite.invite_page, name="invite"),
    path("api/v1/members", api.list_members, name="api_members"),
    path("api/v1/members/<int:member_id>", api.member_detail, name="api_member"),
    path("api/v1/invitations", api.create_invitation, name="api_invitations"),
    # OpenID Connect: /oidc/authenticate/ starts, /oidc/callback/ is the redirect URI to register.
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("login/supabase", login.supabase_password, name="supabase_password"),
    path("login/magic-link", login.supabase_magic_link, name="supabase_magic_link"),
    path("auth/supabase/confirm", login.supabase_confirm, name="supabase_confirm"),
]
