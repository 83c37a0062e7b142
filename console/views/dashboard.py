"""The first page after login: what trains and serves now, on which GPUs, and what broke."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from console.gpus import gpu_rows
from console.lookups import visible_deployments, visible_runs
from console.queue import project_queues
from runs.models import RunStatus

RECENT_FAILURES_DAYS = 7


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    runs = visible_runs(request.user).select_related("project")
    since = timezone.now() - timedelta(days=RECENT_FAILURES_DAYS)
    context = {
        "active_runs": runs.active().order_by("-started_at", "-created_at")[:50],
        "recent_failures": runs.filter(status=RunStatus.FAILED, updated_at__gte=since).order_by("-updated_at")[:10],
        "gpu_rows": gpu_rows(request.user),
        "deployments": visible_deployments(request.user).live()[:20],
        "failure_days": RECENT_FAILURES_DAYS,
    }
    return render(request, "console/dashboard.html", context)


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """The GPU queue: who holds each GPU, and per project what runs and what waits, in order and why."""
    context = {"gpu_rows": gpu_rows(request.user), "queues": project_queues(request.user)}
    return render(request, "console/queue.html", context)
