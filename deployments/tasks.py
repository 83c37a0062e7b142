"""django-q2 tasks. A schedule (migration 0002) runs `supervise_deployments` every minute,
so `manage.py qcluster` alone keeps deployments probed."""

from __future__ import annotations

import threading

from django.conf import settings

from deployments.models import Deployment
from deployments.supervisor import DeploymentSupervisor


def supervise_deployments() -> str:
    """Probe this host's deployments for DEPLOY_SUPERVISOR_TASK_SECONDS, then hand over to the next run."""
    if not Deployment.objects.live().on_this_host().exists():
        return "No live deployment on this host."
    supervisor = DeploymentSupervisor()
    if not supervisor.acquire_lease():
        return "Another supervisor holds this host's lease."
    supervisor.run(stop=threading.Event(), seconds=settings.DEPLOY_SUPERVISOR_TASK_SECONDS)
    return f"Supervised deployments for {settings.DEPLOY_SUPERVISOR_TASK_SECONDS:g} s."
