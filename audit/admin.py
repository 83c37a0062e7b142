from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditAction, AuditEvent
from audit.services import record_event


class AuditedModelAdmin(admin.ModelAdmin):
    """Base for every ModelAdmin: what operators change in the admin lands in the audit log."""

    def log_addition(self, request: HttpRequest, obj, message):
        record_event(actor=request.user, action=AuditAction.CREATE, target=obj, changes={"admin": str(message)})
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj, message):
        record_event(actor=request.user, action=AuditAction.UPDATE, target=obj, changes={"admin": str(message)})
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset):
        for obj in queryset:
            record_event(actor=request.user, action=AuditAction.DELETE, target=obj)
        return super().log_deletions(request, queryset)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is evidence, nobody edits it."""

    list_display = ["created_at", "actor_name", "action", "verb", "object_type", "object_repr", "via", "client_address"]
    list_filter = ["action", "via", "object_type"]
    search_fields = ["actor_name", "object_id", "object_repr", "verb"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
