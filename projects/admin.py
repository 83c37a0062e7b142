from django.contrib import admin
from django.http import HttpRequest

from audit.admin import AuditedModelAdmin
from projects.models import Project, ProjectVersion


class ProjectVersionInline(admin.TabularInline):
    model = ProjectVersion
    extra = 0
    fields = readonly_fields = ("version", "changed_at", "changed_by", "changes")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(AuditedModelAdmin):
    list_display = ["name", "owner", "status", "task_type", "base_model", "executor", "created_by", "created_at"]
    list_filter = ["status", "task_type", "executor"]
    search_fields = ["name", "owner", "description", "objective", "base_model"]
    autocomplete_fields = ["members"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["id", "created_at", "updated_at"]
    date_hierarchy = "created_at"
    inlines = [ProjectVersionInline]


@admin.register(ProjectVersion)
class ProjectVersionAdmin(AuditedModelAdmin):
    """Read-only: the version history is a record of what happened."""

    list_display = ["project", "version", "changed_at", "changed_by"]
    list_filter = ["changed_at"]
    list_select_related = ["project"]
    search_fields = ["project__name", "changed_by"]
    raw_id_fields = ["project"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
