"""A run that ended has its checkpoints thinned by a worker, once its ending is committed."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import receiver

from retention.models import RetentionPolicy
from runs.executors import get_executor
from runs.models import Run
from runs.signals import run_finished


def _enqueue(run_id: str, queue: str | None) -> None:
    from django_q.tasks import async_task

    async_task(
        "retention.tasks.apply_retention",
        run_id,
        task_name="checkpoint retention",
        group="retention",
        cluster=queue,
    )


@receiver(run_finished)
def thin_checkpoints(sender: Any, run: Run, **kwargs: Any) -> None:
    if RetentionPolicy.objects.filter(project_id=run.project_id).exists():
        # A local run's checkpoints are on its host's disk: that host's workers thin them.
        queue = get_executor(run.executor).task_queue(run)
        transaction.on_commit(partial(_enqueue, str(run.pk), queue), robust=True)
