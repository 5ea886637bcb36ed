from django.contrib import admin

from spanlens.anomalies.models import Anomaly
from spanlens.core.admin import OrgScopedAdmin


@admin.register(Anomaly)
class AnomalyAdmin(OrgScopedAdmin):
    list_display = ("metric", "scope_key", "direction", "score", "opened_at", "resolved_at", "acknowledged_at")
    list_filter = ("metric", "scope_kind")
    readonly_fields = ("factors", "chart")
