"""The admin's "Add deployment": the console's deployment form, where staff may also allow
vLLM options beyond the policy for that one deployment; and the console's own records.

The deployments app's admin is registered again here, with this page, because the form,
the GPU picker's rows and the released artifacts are the console's (deployments may not
import the console).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from console.errors import add_service_error
from console.forms import StaffDeploymentForm
from console.gpus import gpu_rows
from console.models import RunTableColumns
from console.views.deployments import released_artifacts
from deployments import services
from deployments.admin import DeploymentAdmin
from deployments.models import Deployment
from deployments.vllm import allowed_options
from llmplatform.errors import DomainError


class StartingDeploymentAdmin(DeploymentAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return admin.ModelAdmin.has_add_permission(self, request)  # Django's: the add permission

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        """Start a deployment through the service, as the console does, with the options staff allow besides."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = StaffDeploymentForm(
            request.POST or None,
            user=request.user,
            gpu_rows=gpu_rows(request.user),
            released=released_artifacts(request.user),
        )
        if request.method == "POST" and form.is_valid():
            try:
                deployment = services.create_deployment(actor=request.user, **form.service_arguments())
            except DomainError as error:
                add_service_error(form, error)
            else:
                self.message_user(
                    request,
                    _("%(deployment)s started; it is loading the model.") % {"deployment": deployment},
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:deployments_deployment_change", args=[deployment.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Start a deployment"),
            "opts": self.opts,
            "form": form,
            "allowed_options": allowed_options(),
        }
        return TemplateResponse(
            request, "admin/deployments/deployment/start.html", context, status=400 if form.errors else 200
        )


admin.site.unregister(Deployment)
admin.site.register(Deployment, StartingDeploymentAdmin)


@admin.register(RunTableColumns)
class RunTableColumnsAdmin(admin.ModelAdmin):
    """Who chose which columns for a project's runs table; people set them in the console, not here."""

    list_display = ("user", "project", "columns", "updated_at")
    list_select_related = ("user", "project")
    search_fields = ("user__username", "project__name")
    readonly_fields = ("user", "project", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
