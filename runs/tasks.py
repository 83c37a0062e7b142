"""django-q2 tasks: thin, they call the domain."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.cache import cache

from runs import scheduling
from runs.supervisor import Supervisor


def dispatch_queued_runs() -> int:
    return len(scheduling.dispatch_queued_runs())


def supervise_runs() -> str:
    """A bounded supervision loop, one per host; see runs.supervisor for why and how."""
    key = f"runs:supervisor-loop:{settings.HOSTNAME}"
    ttl = max(int(settings.SUPERVISOR_LEASE_SECONDS), 5)
    if not cache.add(key, os.getpid(), timeout=ttl):
        return "another supervision loop runs on this host"
    supervisor = Supervisor(on_tick=lambda: cache.set(key, os.getpid(), timeout=ttl))
    try:
        supervisor.run(duration=settings.SUPERVISOR_TASK_SECONDS)
    finally:
        cache.delete(key)
    if not settings.Q_CLUSTER.get("sync"):
        from django_q.tasks import async_task

        async_task("runs.tasks.supervise_runs", task_name="supervise runs", group="runs")
    return "supervision loop ended; its successor is queued"
