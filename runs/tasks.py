"""django-q2 tasks: thin, they call the domain."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.cache import cache

from runs import scheduling
from runs.supervisor import Supervisor


def _loop_key() -> str:
    return f"runs:supervisor-loop:{settings.HOSTNAME}"


def _queue_supervision() -> None:
    if not settings.Q_CLUSTER.get("sync"):  # (inline in tests: a loop would block the caller)
        from django_q.tasks import async_task

        async_task("runs.tasks.supervise_runs", task_name="supervise runs", group="runs")


def dispatch_queued_runs() -> int:
    started = scheduling.dispatch_queued_runs()
    if started and cache.get(_loop_key()) is None:
        _queue_supervision()  # right after a cluster start, before the schedule first fires
    return len(started)


def supervise_runs() -> str:
    """A bounded supervision loop, one per host; see runs.supervisor for why and how."""
    key = _loop_key()
    ttl = max(int(settings.SUPERVISOR_LEASE_SECONDS), 5)
    if not cache.add(key, os.getpid(), timeout=ttl):
        return "another supervision loop runs on this host"
    supervisor = Supervisor(on_tick=lambda: cache.set(key, os.getpid(), timeout=ttl))
    try:
        supervisor.run(duration=settings.SUPERVISOR_TASK_SECONDS)
    finally:
        cache.delete(key)
    _queue_supervision()
    return "supervision loop ended; its successor is queued"
