"""Django admin, with the same role rules as the pages.

Superusers see everything. Other staff see only organizations they belong to;
they change project data only where they are not viewers, and members,
invitations and organization settings only where they are owner or admin.
Member changes go through spanlens.core.members, so the last admin stays.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from spanlens.core import audit, members, roles
from spanlens.core.models import (
    ApiKey, AuditEvent, Invitation, Membership, ModelPrice, Organization, Project, ProviderKey,
)


def _memberships(request) -> dict:
    cached = getattr(request, "_spanlens_admin_roles", None)
    if cached is None:
        cached = {str(m.organization_id): m for m in Membership.objects.filter(user=request.user)}
        request._spanlens_admin_roles = cached
    return cached


class OrgScopedAdmin(admin.ModelAdmin):
    """Rows of the caller's organizations; writes need `write_check` there."""

    org_field = "organization"
    write_check = staticmethod(roles.can_write)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.org_field}__in": list(_memberships(request))})

    def _org_id(self, obj) -> str:
        return str(obj.pk if self.org_field == "id" else getattr(obj, f"{self.org_field}_id"))

    def _may_write(self, request, obj) -> bool:
        if request.user.is_superuser:
            return True
        if obj is None:
            return any(self.write_check(m) for m in _memberships(request).values())
        return self.write_check(_memberships(request).get(self._org_id(obj)))

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_write(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_write(request, obj)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and self._may_write(request, None)


class ManagerOnlyAdmin(OrgScopedAdmin):
    write_check = staticmethod(roles.can_manage)


@admin.register(Organization)
class OrganizationAdmin(ManagerOnlyAdmin):
    org_field = "id"
    list_display = ("name", "plan", "created_at")


@admin.register(Project)
class ProjectAdmin(OrgScopedAdmin):
    list_display = ("name", "organization", "created_at")


@admin.register(ApiKey)
class ApiKeyAdmin(OrgScopedAdmin):
    list_display = ("name", "prefix", "organization", "project", "created_at", "revoked_at")
    # The hash is a lookup handle, not something to show: the prefix identifies a key.
    exclude = ("key_hash",)
    readonly_fields = ("prefix", "last_used_at")


@admin.register(ProviderKey)
class ProviderKeyAdmin(OrgScopedAdmin):
    list_display = ("name", "provider", "organization", "project", "secret_hint", "is_active")
    # Never display the ciphertext; rotate a secret from Settings → Provider keys.
    exclude = ("encrypted_secret", "encrypted_headers")
    # A base URL is checked (no cloud metadata, not Spanlens itself) when the service saves it.
    readonly_fields = ("secret_hint", "base_url")


@admin.register(Membership)
class MembershipAdmin(ManagerOnlyAdmin):
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role",)

    def save_model(self, request, obj, form, change):
        if change and "role" in form.changed_data:
            new_role, obj.role = obj.role, form.initial["role"]
            try:
                members.change_role(obj, new_role, actor=request.user, ip=audit.client_ip(request))
            except (members.MemberError, PermissionDenied) as exc:
                messages.error(request, str(exc))
            return
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        try:
            members.remove_member(obj, actor=request.user, ip=audit.client_ip(request))
        except (members.MemberError, PermissionDenied) as exc:
            messages.error(request, str(exc))

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Invitation)
class InvitationAdmin(ManagerOnlyAdmin):
    list_display = ("email", "organization", "role", "created_at", "expires_at", "accepted_at", "declined_at")
    readonly_fields = ("token_hash", "invited_by", "accepted_by", "accepted_at", "declined_at")

    def has_add_permission(self, request):
        return False  # invitations are sent from Settings → Members (they need a token)


@admin.register(AuditEvent)
class AuditEventAdmin(OrgScopedAdmin):
    """Read-only for everyone: the log is evidence."""

    list_display = ("created_at", "organization", "action", "actor_label", "target_label", "ip")
    list_filter = ("action",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        if obj is None:
            return any(roles.can_manage(m) for m in _memberships(request).values())
        return roles.can_manage(_memberships(request).get(str(obj.organization_id)))


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """Prices are global (not per organization); only superusers may edit them."""

    list_display = ("provider", "model", "mode", "input_per_1m", "output_per_1m",
                    "cache_read_per_1m", "cache_write_per_1m", "cache_write_1h_per_1m", "updated_at")
    list_editable = ("input_per_1m", "output_per_1m", "cache_read_per_1m", "cache_write_per_1m",
                     "cache_write_1h_per_1m")
    list_filter = ("provider", "mode")
    search_fields = ("model",)

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        from spanlens.core import pricing

        super().save_model(request, obj, form, change)
        pricing.invalidate()  # this process prices with the new value at once
