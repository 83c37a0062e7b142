"""Deployments: vLLM servers with their status and health, started on a GPU the user picks, logs, stop.

Each page shows the deployments the user sees (projects.sharing); another's is "not found".
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.errors import add_service_error, explain
from console.forms import DeploymentChatForm, DeploymentForm
from console.gpus import gpu_rows
from console.lookups import deployment_for, visible_deployments
from deployments import chat, logs, services
from deployments.models import Deployment, DeploymentStatus
from deployments.vllm import missing_program, quoted
from llmplatform.errors import DomainError
from projects.models import Project
from runs.models import Artifact, ArtifactTagValue

LOG_TAIL_LINES = 200
STOP_POLLING = 286  # htmx stops an `every` trigger on this status


def released_artifacts(user) -> list[Artifact]:
    """Artifacts tagged `release` in projects the user can see: what may be deployed from a run."""
    return list(
        Artifact.objects.filter(tags__value=ArtifactTagValue.RELEASE, run__project__in=Project.objects.visible_to(user))
        .select_related("run__project")
        .distinct()
        .order_by("-created_at")[:100]
    )


@login_required
def deployment_list(request: HttpRequest) -> HttpResponse:
    deployments = visible_deployments(request.user)
    status = request.GET.get("status", "")
    if status in DeploymentStatus.values:
        deployments = deployments.filter(status=status)
    context = {
        "deployments": deployments[:200],
        "statuses": DeploymentStatus.choices,
        "status": status,
        "any_live": any(deployment.is_live for deployment in deployments[:200]),
    }
    return render(request, "deployments/list.html", context)


@login_required
def deployment_create(request: HttpRequest) -> HttpResponse:
    rows = gpu_rows(request.user)
    form = DeploymentForm(
        request.POST or None,
        user=request.user,
        initial={"artifact_id": request.GET.get("artifact_id", "")},  # from a run's "Deploy" link
        gpu_rows=rows,
        released=released_artifacts(request.user),
    )
    if request.method == "POST" and form.is_valid():
        try:
            deployment = services.create_deployment(actor=request.user, **form.service_arguments())
        except DomainError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Deployment started; it is loading the model."))
            return redirect("console:deployment-detail", deployment.pk)
    context = {"form": form, "start_blocked": start_blocked(rows)}
    return render(request, "deployments/form.html", context, status=400 if form.errors else 200)


def start_blocked(rows: list) -> str | None:
    """Why no deployment can start on this host at all, or None: said before anyone fills the form."""
    if not rows:
        return _("This host has no GPU (no NVML driver and no GPU_IDS setting): a model server cannot start here.")
    if program := missing_program():
        return _("vLLM is not installed on this host (%(program)s is no executable program here).") % {
            "program": program
        }
    return None


def detail_context(request: HttpRequest, deployment: Deployment) -> dict:
    return {
        "deployment": deployment,
        "chat_form": DeploymentChatForm(),
        "vllm_cmd": quoted(deployment.argv),
        "can_stop": deployment.is_live and deployment.can_change(request.user),
    }


@login_required
def deployment_detail(request: HttpRequest, deployment_id: UUID) -> HttpResponse:
    deployment = deployment_for(request.user, deployment_id)
    tail = logs.page_of(Path(deployment.log_file), page=None, page_size=LOG_TAIL_LINES) if deployment.log_file else None
    context = {
        **detail_context(request, deployment),
        "lines": tail.items if tail else [],
        "poll_url": log_poll_url(deployment, tail.next_offset if tail else 0),
    }
    return render(request, "deployments/detail.html", context)


@login_required
def deployment_status(request: HttpRequest, deployment_id: UUID) -> HttpResponse:
    deployment = deployment_for(request.user, deployment_id)
    return render(request, "deployments/_status_panel.html", detail_context(request, deployment))


def log_poll_url(deployment: Deployment, offset: int) -> str:
    return reverse("console:deployment-logs", args=[deployment.pk]) + f"?after={offset}"


@login_required
def deployment_logs(request: HttpRequest, deployment_id: UUID) -> HttpResponse:
    """The server's log lines after a byte offset (deployments.logs), for the page's tail."""
    deployment = deployment_for(request.user, deployment_id)
    try:
        offset = int(request.GET.get("after", "0"))
        page = logs.after(Path(deployment.log_file), offset=offset, page_size=500)
    except (ValueError, logs.PageOutOfRange) as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    if not page.items:
        return HttpResponse(status=204 if deployment.is_live else STOP_POLLING)
    context = {"lines": page.items, "poll_url": log_poll_url(deployment, page.next_offset), "oob": True}
    return render(request, "deployments/_log_lines.html", context)


@login_required
@require_POST
def deployment_stop(request: HttpRequest, deployment_id: UUID) -> HttpResponse:
    deployment = deployment_for(request.user, deployment_id)
    if not deployment.can_change(request.user):
        raise PermissionDenied
    try:
        services.stop_deployment(deployment, actor=request.user, force=request.POST.get("force") == "on")
    except DomainError as error:
        messages.error(request, explain(error))
    else:
        messages.success(request, _("Deployment stopped; its GPU and port are free."))
    return redirect("console:deployment-detail", deployment.pk)


@login_required
@require_POST
def deployment_chat(request: HttpRequest, deployment_id: UUID) -> HttpResponse:
    """Send one test message to a running deployment the user sees; its answer and latency, or why none."""
    deployment = deployment_for(request.user, deployment_id)
    form = DeploymentChatForm(request.POST)
    answer = None
    if form.is_valid():
        try:
            answer = chat.send_test_chat(deployment, **form.cleaned_data)
        except DomainError as error:
            add_service_error(form, error)
    context = {"deployment": deployment, "chat_form": form, "answer": answer}
    # htmx swaps the panel; it swaps no 4xx, so a refusal is a 200 there.
    status = 400 if form.errors and not request.headers.get("HX-Request") else 200
    return render(request, "deployments/_chat.html", context, status=status)
