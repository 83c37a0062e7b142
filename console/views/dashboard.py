"""The first page after login: what trains and serves now, on which GPUs, and what broke."""

from __future__ import annotations

import shutil
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from console.gpus import gpu_rows
from console.lookups import visible_deployments, visible_runs
from console.queue import queue_for
from runs.models import Artifact, ArtifactType, RunStatus

RECENT_FAILURES_DAYS = 7


def disk_usage(runs: Any) -> dict[str, Any]:
    """Free space where runs write, and what the artifacts of each project the user sees take."""
    usage = (
        Artifact.objects.filter(run__in=runs)
        .order_by()
        .values("run__project__name")
        .annotate(
            total=Sum("size_bytes"),
            checkpoints=Sum("size_bytes", filter=Q(type=ArtifactType.CHECKPOINT)),
            checkpoint_count=Count("id", filter=Q(type=ArtifactType.CHECKPOINT)),
        )
        .order_by("-total")
    )
    return {"free_bytes": shutil.disk_usage(settings.RUNS_DIR).free, "projects": list(usage[:20])}


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
        "disk": disk_usage(runs),
    }
    return render(request, "console/dashboard.html", context)


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """The GPU queue: who holds each GPU, and per project what runs and what waits, in order and why."""
    state = queue_for(request.user, request.GET.get("page"))
    context = {"gpu_rows": gpu_rows(request.user), "queue": state, "page": state.waiting}
    return render(request, "console/queue.html", context)
