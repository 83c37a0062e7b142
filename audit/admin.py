from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction, AuditEvent, door_name, object_type_name, verb_name
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


class NamedValuesFilter(admin.SimpleListFilter):
    """The values the log holds in one column, named as people name them."""

    parameter_name: str  # the column

    def name_of(self, value: str) -> str:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        values = AuditEvent.objects.order_by().values_list(self.parameter_name, flat=True).distinct()
        return sorted(((value, self.name_of(value)) for value in values if value), key=lambda named: named[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        return queryset.filter(**{self.parameter_name: self.value()}) if self.value() else queryset


class ObjectTypeFilter(NamedValuesFilter):
    title = _("object type")
    parameter_name = "object_type"

    def name_of(self, value: str) -> str:
        return object_type_name(value)


class DoorFilter(NamedValuesFilter):
    title = _("via")
    parameter_name = "via"

    def name_of(self, value: str) -> str:
        return door_name(value)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is evidence, nobody edits it."""

    list_display = [
        "created_at",
        "actor_name",
        "action",
        "verb_name",
        "object_type_name",
        "object_repr",
        "door_name",
        "client_address",
    ]
    list_filter = ["action", DoorFilter, ObjectTypeFilter]
    search_fields = ["actor_name", "object_id", "object_repr", "verb"]
    date_hierarchy = "created_at"

    @admin.display(description=_("verb"), ordering="verb")
    def verb_name(self, event: AuditEvent) -> str:
        return verb_name(event.verb)

    @admin.display(description=_("object type"), ordering="object_type")
    def object_type_name(self, event: AuditEvent) -> str:
        return object_type_name(event.object_type)

    @admin.display(description=_("via"), ordering="via")
    def door_name(self, event: AuditEvent) -> str:
        return door_name(event.via)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
