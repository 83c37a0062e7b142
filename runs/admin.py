from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.admin import AuditedModelAdmin
from runs.models import Artifact, ArtifactTag, LogLine, MetricPoint, Run


class ReadOnlyMixin:
    """What trainers wrote is evidence: operators read it, nobody edits it."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(AuditedModelAdmin):
    """Runs are launched and moved through their states by the platform (API, console, supervisor):
    operators read them and fix what a person chose (name, priority, resources...), never a status."""

    list_display = [
        "__str__",
        "project",
        "status",
        "progress_percent",
        "executor",
        "host",
        "created_at",
        "started_at",
        "completed_at",
    ]
    list_filter = ["status", "executor", "host"]
    list_select_related = ["project"]
    search_fields = ["id", "name", "project__name", "start_command"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id", "project", "created_by", "resume_source_artifact", "status", "progress_percent",
        "created_at", "updated_at", "started_at", "completed_at", "cancelled_at", "cancel_requested_at",
        "argv", "start_command", "run_dir", "output_dir", "executor_state", "gpu_indices", "exit_code", "eta_seconds",
        "current_step", "total_steps", "metrics", "gpu_utilization", "log_offset", "next_log_seq", "ingest_state",
        "lease_owner", "lease_expires_at", "retry_of", "attempt", "retry_due", "retry_reason", "stalled_since",
        "stall_reason", "watch_state", "preempted_by", "preempted_at", "warnings",
    ]  # fmt: skip
    exclude = ["progress"]  # shown as a percentage instead

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("progress"), ordering="progress")
    def progress_percent(self, run: Run) -> str:
        return f"{run.progress:.0%}"


@admin.register(LogLine)
class LogLineAdmin(ReadOnlyMixin, AuditedModelAdmin):
    list_display = ["run", "seq", "timestamp", "level", "message"]
    list_filter = ["level"]
    search_fields = ["message"]
    raw_id_fields = ["run"]
    show_full_result_count = False  # a log can hold millions of lines


@admin.register(MetricPoint)
class MetricPointAdmin(ReadOnlyMixin, AuditedModelAdmin):
    list_display = ["run", "name", "step", "value", "timestamp"]
    list_filter = ["name"]
    search_fields = ["name", "run__name"]
    raw_id_fields = ["run"]
    show_full_result_count = False


class ArtifactTagInline(admin.TabularInline):
    model = ArtifactTag
    extra = 0
    raw_id_fields = ["applied_by"]


@admin.register(Artifact)
class ArtifactAdmin(AuditedModelAdmin):
    list_display = ["name", "type", "run", "step", "size_bytes", "created_at"]
    list_filter = ["type"]
    list_select_related = ["run"]
    search_fields = ["name", "path", "run__name", "run__project__name"]
    raw_id_fields = ["run"]
    inlines = [ArtifactTagInline]


@admin.register(ArtifactTag)
class ArtifactTagAdmin(AuditedModelAdmin):
    list_display = ["artifact", "value", "notes", "applied_at", "applied_by"]
    list_filter = ["value"]
    search_fields = ["artifact__name", "notes"]
    raw_id_fields = ["artifact", "applied_by"]
