"""Which queued run starts next, and which runs a waiting one holds back: priority, then fair share.

The rule, which the README's "Scheduling and fair share" states for users:

1. Priority first. People other than staff launch a run at most at its project's ceiling
   (`Project.max_priority`, set by staff; DEFAULT_MAX_PRIORITY when blank).
2. Within a priority, projects take turns: the next turn goes to the project holding the
   fewest GPUs (those its runs hold in the ledger, plus those of its runs given a turn
   before), between equals to the one that started a GPU run least recently; a project's
   own runs take their turns first come first served. A run's `queue_position` is its place
   in this order (1: first).
3. Local and Docker runs hold the GPUs they ask for (`resources.gpu_count`, of
   `resources.gpu_type` when given) in the GPU ledger from launch until they end. A run
   whose GPUs are not free waits with a `queue_reason` that says why ("waiting for 2 A100
   GPU(s), 1 free of 4") and holds the GPUs it could use back from later runs of its own
   project and from runs of lower priority, so a big run is not starved by a stream of
   small ones of its own project. Runs of other projects at its priority may still start on
   those GPUs until it has been queued GPU_RESERVATION_AFTER_SECONDS; from then on it holds
   them back from every run after it in the order, so a big run is not starved for ever
   by other projects either.
4. A project may cap the GPUs its runs hold at once (`Project.max_concurrent_gpus`): its
   next GPU run then waits, with its project's later GPU runs behind it, while other
   projects go on.
5. A run of a project that may preempt (`Project.may_preempt`, set by staff), first in line for
   GPUs that are not free, has running runs of lower priority stopped for them and requeued to
   resume from their last checkpoint (runs.healing), as few as it needs, lowest priority first.
6. A run that can never start (more GPUs, or of a type, than the host has, or more than its
   project's cap: refused at launch, but GPUs and caps may change later) waits saying so
   and holds nothing back.

So another project's run of your priority holds yours back only once it has been queued
for GPU_RESERVATION_AFTER_SECONDS and its project's turn comes before yours, and then only
until GPUs enough for it are free; a higher priority (which only staff grant) goes first.

Slurm allocates its own GPUs: its runs go to sbatch at their turn and wait in Slurm's
queue. Dispatch is safe to run in several processes at once: a run is launched only by
whoever holds its lease.
"""

from __future__ import annotations

import heapq
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from gpus.inventory import Gpu, list_gpus
from gpus.models import GpuClaim, HolderKind
from gpus.services import GpusUnavailable, claim_gpus, free_gpus, gpu_shortfall, waiting_for
from llmplatform import leases
from runs import healing, services
from runs.executors import get_executor
from runs.models import Run, RunStatus, gpu_request

NEVER = (0, float("-inf"))  # the turn of a project that has never started a GPU run


def gpus_needed(run: Run) -> int:
    """GPUs the run takes from the ledger: none where its executor allocates them itself (Slurm)."""
    if get_executor(run.executor).queues_itself:
        return 0
    return gpu_request(run.resources)[0]


def gpu_type_wanted(run: Run) -> str:
    """The GPU model the run asks for ("A100"), "" for any."""
    return gpu_request(run.resources)[1]


def gpus_in_use() -> Counter[uuid.UUID]:
    """GPUs the ledger holds for each project's runs (a cancelled run holds them until its processes are gone)."""
    held: Counter[uuid.UUID] = Counter()
    for holder in GpuClaim.objects.filter(holder_kind=HolderKind.RUN).values_list("holder_id", flat=True):
        try:
            held[uuid.UUID(holder)] += 1
        except ValueError:
            continue  # not a run's claim: no project's share
    in_use: Counter[uuid.UUID] = Counter()
    for run_id, project_id in Run.objects.filter(pk__in=list(held)).values_list("pk", "project_id"):
        in_use[project_id] += held[run_id]
    return in_use


def _last_gpu_starts(projects: set[uuid.UUID]) -> dict[uuid.UUID, tuple[int, float]]:
    """When each of `projects` last started a run on GPUs of the ledger, as a turn (see `_turn_order`)."""
    latest = (
        Run.objects.filter(project_id__in=projects, started_at__isnull=False)
        .exclude(gpu_indices=[])
        .order_by()
        .values("project_id")
        .annotate(latest=Max("started_at"))
        .values_list("project_id", "latest")
    )
    return {project_id: (0, started.timestamp()) for project_id, started in latest}


def _turn_order(queued: list[Run], in_use: Counter[uuid.UUID]) -> list[Run]:
    """`queued` (highest priority first, then oldest first) in the order projects take turns."""
    gpus = Counter(in_use)
    turns = _last_gpu_starts({run.project_id for run in queued})
    order: list[Run] = []
    for _, same_priority in groupby(queued, key=lambda run: run.priority):
        _take_turns(list(same_priority), gpus=gpus, turns=turns, order=order)
    return order


def _take_turns(
    runs: list[Run], *, gpus: Counter[uuid.UUID], turns: dict[uuid.UUID, tuple[int, float]], order: list[Run]
) -> None:
    """Append `runs`, all of one priority and oldest first, to `order` as their projects take
    turns; a turn given to a GPU run counts its GPUs in `gpus` and its place in `turns`."""
    by_project: dict[uuid.UUID, deque[Run]] = defaultdict(deque)
    for run in runs:
        by_project[run.project_id].append(run)

    def turn(project: uuid.UUID) -> tuple:
        head = by_project[project][0]
        return (gpus[project], turns.get(project, NEVER), head.created_at, str(head.pk), project)

    heap = [turn(project) for project in by_project]
    heapq.heapify(heap)
    while heap:
        project = heapq.heappop(heap)[-1]
        run = by_project[project].popleft()
        order.append(run)
        if needed := gpus_needed(run):
            gpus[project] += needed
            turns[project] = (1, len(order))
        if by_project[project]:
            heapq.heappush(heap, turn(project))


def dispatch_order(in_use: Counter[uuid.UUID] | None = None) -> list[Run]:
    """The queued runs not yet handed to an executor, in the order dispatch considers them."""
    queued = list(Run.objects.in_dispatch_order().select_related("project", "resume_source_artifact"))
    return _turn_order(queued, gpus_in_use() if in_use is None else in_use)


def queue_position(run: Run) -> int | None:
    """Where a queued run stands in dispatch order (1: first); None once it has left the queue."""
    if run.status != RunStatus.QUEUED or run.executor_state:
        return None
    order = [queued.pk for queued in dispatch_order()]
    return order.index(run.pk) + 1 if run.pk in order else None


@dataclass(frozen=True)
class _Waiting:
    """A run waiting for GPUs, and the GPUs it could use."""

    run: Run
    usable: frozenset[int]


def _holds_back(waiting: Run, run: Run) -> bool:
    """Whether `waiting` keeps the GPUs it could use from `run`, a run after it in dispatch order."""
    patience = timedelta(seconds=settings.GPU_RESERVATION_AFTER_SECONDS)
    return (
        waiting.project_id == run.project_id
        or waiting.priority > run.priority
        or timezone.now() - waiting.created_at >= patience
    )


def _behind(waiting: Run, run: Run) -> str:
    """Why `run` waits for `waiting`; a run of another project is not named to people who may not see it."""
    if waiting.project_id == run.project_id:
        return f"waiting for GPUs behind run {waiting}"
    if waiting.priority > run.priority:
        return f"waiting for GPUs held for a run of another project with priority {waiting.priority}"
    return (
        "waiting for GPUs held for a run of another project queued for over "
        f"{settings.GPU_RESERVATION_AFTER_SECONDS:g} s (GPU_RESERVATION_AFTER_SECONDS)"
    )


def _never_starts(run: Run, needed: int, inventory: Sequence[Gpu]) -> str:
    """Why the run can never start on this host, or "": launch refuses such runs, but GPUs and caps change."""
    shortfall = gpu_shortfall(count=needed, gpu_type=gpu_type_wanted(run), inventory=inventory)
    return shortfall or run.project.gpu_cap_shortfall(needed)


def _over_project_cap(run: Run, needed: int, in_use: Counter[uuid.UUID]) -> str:
    """Why the project's GPU cap keeps the run waiting for now, or "" when it does not."""
    cap = run.project.max_concurrent_gpus
    held = in_use[run.project_id]
    if cap is None or held + needed <= cap:
        return ""
    return f"waiting for project {run.project.name!r}'s GPU cap: {held} of its {cap} in use, {needed} needed"


def _wait(run: Run, reason: str) -> None:
    if run.preempted_at is not None:  # queued again by a preemption, and not started since
        reason = f"{healing.preempted_note(run.resume_source_artifact)}; {reason}"
    reason = reason[: Run._meta.get_field("queue_reason").max_length]
    if run.queue_reason != reason:
        Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(queue_reason=reason)


def _tell_shortages(short: list[tuple[Run, frozenset[int]]], inventory: Sequence[Gpu]) -> None:
    """Say how many of the GPUs it may take are free for each run still waiting, as they are after this pass."""
    free = {gpu.index for gpu in free_gpus(inventory)} if short else set()
    for run, candidates in short:
        count, gpu_type = gpu_request(run.resources)
        _wait(run, waiting_for(count=count, gpu_type=gpu_type, free=len(candidates & free), candidates=len(candidates)))


def dispatch_queued_runs() -> list[Run]:
    """Start every queued run that can start now, in fair-share order; return those started."""
    owner = leases.owner_name("dispatch")
    inventory = list_gpus()
    in_use = gpus_in_use()
    started: list[Run] = []
    waiting: list[_Waiting] = []
    short: list[tuple[Run, frozenset[int]]] = []  # waiting for free GPUs: told how many are free once the pass is over
    capped: dict[uuid.UUID, Run] = {}  # per project, its first run held back by the project's cap
    for run in dispatch_order(in_use):
        needed = gpus_needed(run)
        usable = frozenset(gpu.index for gpu in inventory if gpu.has_type(gpu_type_wanted(run)))
        holding = [other for other in waiting if _holds_back(other.run, run)]
        reserved = {index for other in holding for index in other.usable}
        ahead = next((other.run for other in holding if other.usable & usable), None)
        if not needed:
            reason = ""
        elif never := _never_starts(run, needed, inventory):
            reason = never  # and it holds nothing back
        elif run.project_id in capped:
            reason = f"waiting for GPUs behind run {capped[run.project_id]} of the same project"
        elif ahead is not None and len(usable - reserved) < needed:
            reason = _behind(ahead, run)
            waiting.append(_Waiting(run, usable))
        elif reason := _over_project_cap(run, needed, in_use):
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
            except GpusUnavailable:
                run.release_lease(owner)
                waiting.append(_Waiting(run, usable))
                if ahead is not None:
                    _wait(run, _behind(ahead, run))
                elif preempting := healing.preempt_for(run, needed=needed, usable=usable - reserved):
                    _wait(run, preempting)
                else:
                    short.append((run, usable - reserved))
                continue
        if services.start_run(run=run, gpu_indices=gpu_indices, lease_owner=owner):
            in_use[run.project_id] += len(gpu_indices)
            started.append(run)
    _tell_shortages(short, inventory)
    return started
