from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction, AuditEvent, object_type_name
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


class ObjectTypeFilter(admin.SimpleListFilter):
    """The kinds of objects the log names, as people call them."""

    title = _("object type")
    parameter_name = "object_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        labels = AuditEvent.objects.order_by().values_list("object_type", flat=True).distinct()
        return sorted(((label, object_type_name(label)) for label in labels), key=lambda kind: kind[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        return queryset.filter(object_type=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is evidence, nobody edits it."""

    list_display = [
        "created_at",
        "actor_name",
        "action",
        "verb",
        "object_type_name",
        "object_repr",
        "via",
        "client_address",
    ]
    list_filter = ["action", "via", ObjectTypeFilter]
    search_fields = ["actor_name", "object_id", "object_repr", "verb"]
    date_hierarchy = "created_at"

    @admin.display(description=_("object type"), ordering="object_type")
    def object_type_name(self, event: AuditEvent) -> str:
        return object_type_name(event.object_type)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
