"""Which queued run starts next: priority first, then first come first served.

Local and Docker runs hold the GPUs they asked for (`resources.gpu_count`) in the
GPU ledger from launch until they end; a run that cannot get them stays queued
with a `queue_reason` ("waiting for 2 GPU(s), 1 free of 2"), and runs behind it
that need GPUs wait too, so a big run is never starved by a stream of small ones.
Slurm allocates its own GPUs. Dispatch is safe to run in several processes at
once: a run is launched only by whoever holds its lease.
"""

from __future__ import annotations

from django.conf import settings

from gpus.models import HolderKind
from gpus.services import GpusUnavailable, claim_gpus
from runs import leases, services
from runs.models import Run, RunStatus

# Executors whose GPUs the platform hands out itself.
GPU_LEDGER_EXECUTORS = frozenset({"local", "docker"})
QUEUED = frozenset({RunStatus.QUEUED})


def gpus_needed(run: Run) -> int:
    if run.executor not in GPU_LEDGER_EXECUTORS:
        return 0
    try:
        return max(int(run.resources.get("gpu_count") or 0), 0)
    except (TypeError, ValueError):
        return 0


def _wait(run: Run, reason: str) -> None:
    if run.queue_reason != reason:
        Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(queue_reason=reason)


def dispatch_queued_runs() -> list[Run]:
    """Start every queued run that can start now; return those started."""
    owner = leases.owner_name("dispatch")
    started: list[Run] = []
    blocked_by: Run | None = None
    for run in Run.objects.in_dispatch_order().select_related("project", "resume_source_artifact"):
        needed = gpus_needed(run)
        if needed and blocked_by is not None:
            _wait(run, f"waiting for GPUs behind run {blocked_by}")
            continue
        if not run.take_lease(owner, seconds=settings.SUPERVISOR_LEASE_SECONDS, statuses=QUEUED):
            continue
        gpu_indices: list[int] = []
        if needed:
            try:
                gpu_indices = claim_gpus(
                    holder_kind=HolderKind.RUN, holder_id=run.pk, holder_label=str(run), count=needed
                )
            except GpusUnavailable as exc:
                _wait(run, str(exc))
                run.release_lease(owner)
                blocked_by = run
                continue
        if services.start_run(run=run, gpu_indices=gpu_indices, lease_owner=owner):
            started.append(run)
    return started
