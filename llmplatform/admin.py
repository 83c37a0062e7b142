from django.contrib import admin
from django.http import HttpRequest

from llmplatform.models import SupervisorLease


@admin.register(SupervisorLease)
class SupervisorLeaseAdmin(admin.ModelAdmin):
    """Which process runs each supervision loop of each host; read-only, the loops keep it."""

    list_display = ["name", "lease_owner", "lease_expires_at"]
    search_fields = ["name", "lease_owner"]
    readonly_fields = ["name", "lease_owner", "lease_expires_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
