"""django-q2 tasks, so that `manage.py qcluster` alone keeps deployments probed.

A schedule (migration 0002) starts `supervise_deployments` every minute; while live
deployments remain, each run queues its successor when its time slice ends, so
probes never pause for long. The supervisor's lease keeps the extra runs (and a
`manage.py supervise_deployments` beside them) from probing twice.
"""

from __future__ import annotations

import threading

from django.conf import settings

from deployments.models import Deployment
from deployments.supervisor import DeploymentSupervisor


def supervise_deployments() -> str:
    """Probe this host's deployments for DEPLOY_SUPERVISOR_TASK_SECONDS, then hand over to a successor."""
    if not Deployment.objects.live().on_this_host().exists():
        return "No live deployment on this host."
    supervisor = DeploymentSupervisor()
    if not supervisor.acquire_lease():
        return "Another supervisor holds this host's lease."
    supervisor.run(stop=threading.Event(), seconds=settings.DEPLOY_SUPERVISOR_TASK_SECONDS)
    if not settings.Q_CLUSTER.get("sync"):
        from django_q.tasks import async_task

        async_task("deployments.tasks.supervise_deployments", task_name="supervise deployments", group="deployments")
    return f"Supervised deployments for {settings.DEPLOY_SUPERVISOR_TASK_SECONDS:g} s; the successor is queued."
