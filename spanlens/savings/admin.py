from django.contrib import admin

from spanlens.savings.models import ModelTier


@admin.register(ModelTier)
class ModelTierAdmin(admin.ModelAdmin):
    """Install-wide like the price table: only superusers edit it."""

    list_display = ("provider", "model", "tier", "kind", "enabled", "note", "updated_at")
    list_editable = ("tier", "kind", "enabled", "note")
    list_filter = ("provider", "tier", "kind", "enabled")
    search_fields = ("model",)

    def has_module_permission(self, request):
        return request.user.is_superuser
