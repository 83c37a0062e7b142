from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.admin import AuditedModelAdmin
from deployments import services
from deployments.models import Deployment, DeploymentTag
from deployments.vllm import quoted
from llmplatform.errors import DomainError
from llmplatform.sentences import translate_lazy


class DeploymentTagInline(admin.TabularInline):
    model = DeploymentTag
    extra = 0


@admin.register(Deployment)
class DeploymentAdmin(AuditedModelAdmin):
    list_display = [
        "served_model_name",
        "status",
        "health_ok",
        "gpu_id",
        "port",
        "pid",
        "host",
        "created_by",
        "project",
        "started_at",
        "stopped_at",
    ]
    list_filter = ["status", "health_ok", "host", "gpu_id"]
    search_fields = ["id", "model_path", "served_model_name", "model_version", "tag_set__value"]
    date_hierarchy = "created_at"
    inlines = [DeploymentTagInline]
    raw_id_fields = ["project"]  # staff share a deployment with a project's team here
    actions = ["stop_deployments", "force_stop_deployments"]
    readonly_fields = [
        "id",
        "status",
        "created_by",
        "created_at",
        "updated_at",
        "model_path",
        "artifact",
        "served_model_name",
        "extra_args",
        "allowed_extra_flags",
        "health_path",
        "host",
        "gpu_id",
        "port",
        "vllm_cmd",
        "log_file",
        "pid",
        "process_start_time",
        "exit_code",
        "health_ok",
        "failed_probes",
        "last_probe_at",
        "status_detail",
        "last_log_lines",
        "started_at",
        "ready_at",
        "stop_requested_at",
        "stopped_at",
    ]
    exclude = ["argv"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Deployments need a GPU and a port: they start through the service, from the API, the
        # console, or the console's form in the admin (console/admin.py, where staff allow more options).
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # stopped deployments stay as the record of what was served

    @admin.display(description=gettext_lazy("vLLM command"))
    def vllm_cmd(self, deployment: Deployment) -> str:
        return quoted(deployment.argv)

    def _stop(self, request: HttpRequest, queryset, *, force: bool) -> None:
        for deployment in queryset.live():
            try:
                services.stop_deployment(deployment, actor=request.user, force=force)
            except DomainError as exc:
                self.message_user(request, f"{deployment}: {translate_lazy(exc.message)}", messages.ERROR)
            else:
                self.message_user(request, _("%(deployment)s stopped.") % {"deployment": deployment}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Stop the selected deployments (SIGTERM)"))
    def stop_deployments(self, request: HttpRequest, queryset) -> None:
        self._stop(request, queryset, force=False)

    @admin.action(description=gettext_lazy("Stop the selected deployments, SIGKILL if SIGTERM is not enough"))
    def force_stop_deployments(self, request: HttpRequest, queryset) -> None:
        self._stop(request, queryset, force=True)
