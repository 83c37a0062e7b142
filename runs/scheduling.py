"""Which queued run starts next: priority first, then first come first served.

Local and Docker runs hold the GPUs they asked for (`resources.gpu_count`, of
`resources.gpu_type` when given) in the GPU ledger from launch until they end; a
run that cannot get them stays queued with a `queue_reason` that says why
("waiting for 2 A100 GPU(s), 1 free of 4") and a `queue_position` (1: next to
start). A project may cap the GPUs its runs hold at once
(`Project.max_concurrent_gpus`): its next GPU run then waits, with its project's
later GPU runs behind it, while other projects go on. Slurm allocates its own
GPUs. Dispatch is safe to run in several processes at once: a run is launched
only by whoever holds its lease.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db.models import Q

from gpus.inventory import list_gpus
from gpus.models import GpuClaim, HolderKind
from gpus.services import GpusUnavailable, claim_gpus
from llmplatform import leases
from runs import services
from runs.executors import get_executor
from runs.models import Run, RunStatus


def gpus_needed(run: Run) -> int:
    """GPUs the run takes from the ledger: none where its executor allocates them itself (Slurm)."""
    if get_executor(run.executor).queues_itself:
        return 0
    try:
        return max(int(run.resources.get("gpu_count") or 0), 0)
    except (TypeError, ValueError):
        return 0


def gpu_type_wanted(run: Run) -> str:
    """The GPU model the run asks for ("A100"), "" for any."""
    return str(run.resources.get("gpu_type") or "").strip()


def project_gpus_in_use(project_id: uuid.UUID) -> int:
    """GPUs the ledger holds for the project's runs (a cancelled run holds them until its processes are gone)."""
    holders = Run.objects.filter(project_id=project_id, status__in=[RunStatus.RUNNING, RunStatus.CANCELLED])
    ids = [str(pk) for pk in holders.values_list("pk", flat=True)]
    return GpuClaim.objects.filter(holder_kind=HolderKind.RUN, holder_id__in=ids).count()


def _over_project_cap(run: Run, needed: int) -> str:
    """Why the project's GPU cap keeps the run waiting, or "" when it does not."""
    cap = run.project.max_concurrent_gpus
    if cap is None:
        return ""
    if needed > cap:
        return (
            f"needs {needed} GPUs but project {run.project.name!r} may hold at most {cap} at once (max_concurrent_gpus)"
        )
    in_use = project_gpus_in_use(run.project_id)
    if in_use + needed > cap:
        return f"waiting for project {run.project.name!r}'s GPU cap: {in_use} of its {cap} in use, {needed} needed"
    return ""


def queue_position(run: Run) -> int | None:
    """Where a queued run stands in dispatch order (1: next to start); None once it has left the queue."""
    if run.status != RunStatus.QUEUED:
        return None
    ahead = Q(priority__gt=run.priority) | Q(priority=run.priority, created_at__lt=run.created_at)
    return Run.objects.in_dispatch_order().filter(ahead).count() + 1


def _wait(run: Run, reason: str) -> None:
    if run.queue_reason != reason:
        Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(queue_reason=reason)


def dispatch_queued_runs() -> list[Run]:
    """Start every queued run that can start now; return those started."""
    owner = leases.owner_name("dispatch")
    inventory = list_gpus()
    started: list[Run] = []
    # FIFO within a priority holds per GPU, as in Determined's resource pools: a run waiting
    # for GPUs reserves every GPU it could use (all of them, or those of its gpu_type) against
    # the runs behind it, which may still start on GPUs nobody ahead waits for. So a big run
    # is never starved by a stream of small ones, and a run waiting for A100s holds back runs
    # that could take an A100, not those that want another type.
    waiting: list[tuple[Run, set[int]]] = []
    capped: dict[object, Run] = {}  # per project, its first run held back by the project's cap
    for run in Run.objects.in_dispatch_order().select_related("project", "resume_source_artifact"):
        needed = gpus_needed(run)
        usable = {gpu.index for gpu in inventory if gpu.has_type(gpu_type_wanted(run))}
        reserved = {index for _, indices in waiting for index in indices}
        ahead = next((other for other, indices in waiting if indices & usable), None)
        if needed and run.project_id in capped:
            reason = f"waiting for GPUs behind run {capped[run.project_id]} of the same project"
        elif needed and ahead is not None and len(usable - reserved) < needed:
            reason = f"waiting for GPUs behind run {ahead}"
            waiting.append((run, usable))
        else:
            reason = _over_project_cap(run, needed) if needed else ""
            if reason:
                capped[run.project_id] = run
        if reason:
            _wait(run, reason)
            continue
        if not run.take_lease(owner, seconds=settings.SUPERVISOR_LEASE_SECONDS, where=Q(status=RunStatus.QUEUED)):
            continue
        gpu_indices: list[int] = []
        if needed:
            try:
                gpu_indices = claim_gpus(
                    holder_kind=HolderKind.RUN,
                    holder_id=run.pk,
                    holder_label=str(run),
                    count=needed,
                    gpu_type=gpu_type_wanted(run),
                    excluding=reserved,
                )
            except GpusUnavailable as exc:
                _wait(run, f"waiting for GPUs behind run {ahead}" if ahead else str(exc))
                run.release_lease(owner)
                waiting.append((run, usable))
                continue
        if services.start_run(run=run, gpu_indices=gpu_indices, lease_owner=owner):
            started.append(run)
    return started
