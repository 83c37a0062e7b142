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
whoever holds its lease. On several hosts, each host's dispatch starts local runs launched on
that host only (`Run.host`: its GPUs, its training folder, its processes), and Docker and Slurm
runs whichever host gets there first; projects' shares count their GPUs on every host.

A pass costs a handful of queries however long the queue (bench/p8_queue_scale.py: 15,000
waiting runs): it reads, as light rows (`Queued`) in one query, the first WINDOW runs of
each project at each priority, which are all a pass could start; what each one holds back is
kept as running unions per project, per higher priority and for old runs instead of comparing
every pair; only a run that may start is read whole; queue reasons that changed are written
grouped, one UPDATE per distinct reason; and a project's runs beyond the window are told,
together and only when it changes, what its last run looked at waits for, or that they wait
behind their own project's earlier runs. `queue_position` still orders the whole queue.
"""

from __future__ import annotations

import heapq
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from itertools import groupby
from typing import Any

from django.conf import settings
from django.db.models import Case, F, OuterRef, Q, Subquery, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from gpus.inventory import Gpu, list_gpus
from gpus.models import GpuClaim, HolderKind
from gpus.services import GpusUnavailable, claim_gpus, free_gpus, gpu_shortfall, waiting_for
from llmplatform import leases
from projects.models import Project
from runs import healing, services
from runs.executors import EXECUTOR_CLASSES, get_executor
from runs.models import Run, RunQuerySet, RunStatus, gpu_request

NEVER = (0, float("-inf"))  # the turn of a project that has never started a GPU run
REASON_LENGTH = Run._meta.get_field("queue_reason").max_length or 255
WRITE_BATCH = 500  # runs per UPDATE of queue reasons (SQLite bounds a statement's parameters)
# A pass looks at the first WINDOW runs of each project at each priority, of those that take ledger
# GPUs and of those that take none: a project starts at most that many of each in one pass (the
# supervisor passes twice a second), and its later runs wait behind them (BEHIND_OWN_PROJECT).
WINDOW = 16
BEHIND_OWN_PROJECT = "waiting for GPUs behind earlier runs of the same project"


@cache
def _queues_itself(executor: str) -> bool:
    return get_executor(executor).queues_itself


def dispatchable_on(runs: RunQuerySet, host: str | None) -> RunQuerySet:
    """Those of `runs` the dispatch of `host` may start (None: every host's): local runs only where they
    were launched, or anywhere when launched before runs knew their host; Docker and Slurm runs anywhere."""
    if host is None:
        return runs
    bound = [kind for kind in EXECUTOR_CLASSES if get_executor(kind).bound_to_host]
    return runs.filter(~Q(executor__in=bound) | Q(host=host) | Q(host=""))


def gpus_needed(run: Run | Queued) -> int:
    """GPUs the run takes from the ledger: none where its executor allocates them itself (Slurm)."""
    if _queues_itself(run.executor):
        return 0
    return gpu_request(run.resources)[0]


def gpu_type_wanted(run: Run | Queued) -> str:
    """The GPU model the run asks for ("A100"), "" for any."""
    return gpu_request(run.resources)[1]


@dataclass(slots=True, eq=False)
class Queued:
    """What dispatch needs of a queued run, read with every other queued run in one query."""

    pk: uuid.UUID
    name: str
    project_id: uuid.UUID
    priority: int
    created_at: datetime
    resources: dict[str, Any]
    executor: str
    queue_reason: str
    preempted_at: datetime | None
    resume_from: str | None  # the name of the checkpoint it resumes from
    beyond: bool = False  # past the window of runs a pass may start (see `queued_runs`)
    project: Project = field(init=False)
    status: str = RunStatus.QUEUED

    FIELDS = (
        "pk",
        "name",
        "project_id",
        "priority",
        "created_at",
        "resources",
        "executor",
        "queue_reason",
        "preempted_at",
        "resume_source_artifact__name",
    )

    def __str__(self) -> str:
        return self.name or str(self.pk)

    def get_status_display(self) -> str:
        return str(RunStatus.QUEUED.label)


def queued_runs(window: int | None = None, *, host: str | None = None) -> list[Queued]:
    """The queued runs not yet handed to an executor (that `host` may dispatch, see `dispatchable_on`),
    highest priority first, then oldest first.

    With a `window`, one more than the first `window` runs of each project at each priority
    (of those that take ledger GPUs, and of those that take none): the runs one dispatch pass
    may start (see WINDOW), and the next one, `beyond` it.
    """
    runs = dispatchable_on(Run.objects.in_dispatch_order(), host)
    if window is None:
        rows = [Queued(*row) for row in runs.values_list(*Queued.FIELDS)]
    else:
        no_gpu = (
            Q(executor__in=[kind for kind in EXECUTOR_CLASSES if _queues_itself(kind)])
            | ~Q(resources__has_key="gpu_count")
            | Q(resources__gpu_count=None)
            | Q(resources__gpu_count=0)
        )
        takes_gpus = Case(When(no_gpu, then=Value(0)), default=Value(1))
        place = Window(
            RowNumber(),
            partition_by=[F("priority"), F("project_id"), takes_gpus],
            order_by=[F("created_at"), F("pk")],
        )
        found = runs.annotate(place=place).filter(place__lte=window + 1).values_list(*Queued.FIELDS, "place")
        rows = []
        for *fields, number in found:
            rows.append(queued := Queued(*fields))
            queued.beyond = number > window
    projects = Project.objects.in_bulk({row.project_id for row in rows})
    for row in rows:
        row.project = projects[row.project_id]
    return rows


def release_gpus_of_ended_runs() -> int:
    """Give back GPUs the ledger still holds for runs that have ended (a supervisor killed between
    recording a run's end and releasing its GPUs); a cancelled run keeps them until its stop is
    carried out. How many were given back."""
    holders = []
    for holder in GpuClaim.objects.filter(holder_kind=HolderKind.RUN).values_list("holder_id", flat=True):
        try:
            holders.append(uuid.UUID(holder))
        except ValueError:
            continue
    if not holders:
        return 0
    ended = Run.objects.filter(pk__in=holders).finished().exclude(executor_state__has_key="stop")
    ended_ids = [str(pk) for pk in ended.values_list("pk", flat=True)]
    if not ended_ids:
        return 0
    deleted, _ = GpuClaim.objects.filter(holder_kind=HolderKind.RUN, holder_id__in=ended_ids).delete()
    return deleted


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
    """When each of `projects` last started a run on GPUs of the ledger, as a turn (see `_turn_order`).

    Per project, its newest started runs back to the first that held GPUs (index run_project_started).
    """
    gpu_runs = Run.objects.filter(project=OuterRef("pk"), started_at__isnull=False).exclude(gpu_indices=[])
    latest = (
        Project.objects.filter(pk__in=projects)
        .annotate(latest=Subquery(gpu_runs.order_by("-started_at").values("started_at")[:1]))
        .exclude(latest=None)
        .values_list("pk", "latest")
    )
    return {project_id: (0, started.timestamp()) for project_id, started in latest}


def _turn_order(queued: list[Queued], in_use: Counter[uuid.UUID]) -> list[Queued]:
    """`queued` (highest priority first, then oldest first) in the order projects take turns."""
    gpus = Counter(in_use)
    turns = _last_gpu_starts({run.project_id for run in queued})
    order: list[Queued] = []
    for _, same_priority in groupby(queued, key=lambda run: run.priority):
        _take_turns(list(same_priority), gpus=gpus, turns=turns, order=order)
    return order


def _take_turns(
    runs: list[Queued], *, gpus: Counter[uuid.UUID], turns: dict[uuid.UUID, tuple[int, float]], order: list[Queued]
) -> None:
    """Append `runs`, all of one priority and oldest first, to `order` as their projects take
    turns; a turn given to a GPU run counts its GPUs in `gpus` and its place in `turns`."""
    by_project: dict[uuid.UUID, deque[Queued]] = defaultdict(deque)
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


def dispatch_order(
    in_use: Counter[uuid.UUID] | None = None, *, window: int | None = None, host: str | None = None
) -> list[Queued]:
    """The queued runs not yet handed to an executor (`window`, `host`: see `queued_runs`), in dispatch order."""
    return _turn_order(queued_runs(window, host=host), gpus_in_use() if in_use is None else in_use)


def queue_position(run: Run) -> int | None:
    """Where a queued run stands in dispatch order (1: first) among the runs the dispatch that will start
    it looks at: for a local run, its host's; None once it has left the queue."""
    if run.status != RunStatus.QUEUED or run.executor_state:
        return None
    host = run.host if run.host and get_executor(run.executor).bound_to_host else None
    order = [queued.pk for queued in dispatch_order(host=host)]
    return order.index(run.pk) + 1 if run.pk in order else None


@dataclass(frozen=True, slots=True)
class _Waiting:
    """A run waiting for GPUs, its place in dispatch order, and the GPUs it could use."""

    run: Queued
    place: int
    usable: frozenset[int]


class _Holders:
    """Waiting runs that keep the GPUs they could use from some later runs, in dispatch order."""

    def __init__(self) -> None:
        self.runs: list[_Waiting] = []
        self.reserved: set[int] = set()
        self._first: dict[frozenset[int], tuple[int, _Waiting | None]] = {}  # usable → (looked up to, found)

    def add(self, waiting: _Waiting) -> None:
        self.runs.append(waiting)
        self.reserved |= waiting.usable

    def first_sharing(self, usable: frozenset[int]) -> _Waiting | None:
        """The first of them that could use some of `usable` (remembered: each run is looked at once per set)."""
        looked, found = self._first.get(usable, (0, None))
        if found is None:
            found = next((waiting for waiting in self.runs[looked:] if waiting.usable & usable), None)
            self._first[usable] = (len(self.runs), found)
        return found


@dataclass
class _Reservations:
    """Who holds back which GPUs from the run dispatch looks at next (see the module's rule 3)."""

    by_project: dict[uuid.UUID, _Holders] = field(default_factory=lambda: defaultdict(_Holders))
    higher: _Holders = field(default_factory=_Holders)  # waiting runs of a higher priority
    this_priority: list[_Waiting] = field(default_factory=list)
    old: _Holders = field(default_factory=_Holders)  # queued past GPU_RESERVATION_AFTER_SECONDS
    priority: int | None = None
    patience_since: datetime = field(default_factory=lambda: timezone.now() - _patience())

    def look_at(self, run: Queued) -> list[_Holders]:
        """The holders of GPUs back from `run`; call in dispatch order."""
        if run.priority != self.priority:
            for waiting in self.this_priority:
                self.higher.add(waiting)
            self.this_priority, self.priority = [], run.priority
        return [self.by_project[run.project_id], self.higher, self.old]

    def add(self, waiting: _Waiting) -> None:
        self.by_project[waiting.run.project_id].add(waiting)
        self.this_priority.append(waiting)
        if waiting.run.created_at <= self.patience_since:
            self.old.add(waiting)


def _patience() -> timedelta:
    return timedelta(seconds=settings.GPU_RESERVATION_AFTER_SECONDS)


def _behind(waiting: Queued, run: Queued) -> str:
    """Why `run` waits for `waiting`; a run of another project is not named to people who may not see it."""
    if waiting.project_id == run.project_id:
        return f"waiting for GPUs behind run {waiting}"
    if waiting.priority > run.priority:
        return f"waiting for GPUs held for a run of another project with priority {waiting.priority}"
    return (
        "waiting for GPUs held for a run of another project queued for over "
        f"{settings.GPU_RESERVATION_AFTER_SECONDS:g} s (GPU_RESERVATION_AFTER_SECONDS)"
    )


def _over_project_cap(run: Queued, needed: int, in_use: Counter[uuid.UUID]) -> str:
    """Why the project's GPU cap keeps the run waiting for now, or "" when it does not."""
    cap = run.project.max_concurrent_gpus
    held = in_use[run.project_id]
    if cap is None or held + needed <= cap:
        return ""
    return f"waiting for project {run.project.name!r}'s GPU cap: {held} of its {cap} in use, {needed} needed"


class _Reasons:
    """Queue reasons that changed in this pass, written at its end, one UPDATE per distinct reason."""

    def __init__(self) -> None:
        self.changed: dict[str, list[uuid.UUID]] = defaultdict(list)
        self.given: dict[uuid.UUID, str] = {}

    def wait(self, run: Queued, reason: str) -> None:
        self.given[run.pk] = reason
        if run.preempted_at is not None:  # queued again by a preemption, and not started since
            reason = f"{healing.preempted_note(run.resume_from)}; {reason}"
        reason = reason[:REASON_LENGTH]
        if run.queue_reason != reason:
            self.changed[reason].append(run.pk)

    def write(self) -> None:
        for reason, runs in self.changed.items():
            for start in range(0, len(runs), WRITE_BATCH):
                batch = runs[start : start + WRITE_BATCH]
                Run.objects.filter(pk__in=batch, status=RunStatus.QUEUED).update(queue_reason=reason)


def _whole(run: Queued) -> Run | None:
    """The run itself, to be launched; None once it has left the queue."""
    runs = dispatchable_on(Run.objects.in_dispatch_order(), settings.HOSTNAME)
    return runs.select_related("project", "resume_source_artifact").filter(pk=run.pk).first()


def dispatch_queued_runs() -> list[Run]:
    """Start every queued run that can start now, in fair-share order; return those started."""
    owner = leases.owner_name("dispatch")
    release_gpus_of_ended_runs()
    inventory = list_gpus()
    in_use = gpus_in_use()
    free = {gpu.index for gpu in free_gpus(inventory)}
    started: list[Run] = []
    reservations = _Reservations()
    reasons = _Reasons()
    short: list[
        tuple[Queued, frozenset[int]]
    ] = []  # waiting for free GPUs: told how many are free once the pass is over
    capped: dict[uuid.UUID, Queued] = {}  # per project, its first run held back by the project's cap

    @cache
    def usable_of(gpu_type: str) -> frozenset[int]:
        return frozenset(gpu.index for gpu in inventory if gpu.has_type(gpu_type))

    def never_starts(needed: int, gpu_type: str, project: Project) -> str:
        """Why such a run can never start here, or "": launch refuses such runs, but GPUs and caps change."""
        if needed > len(usable_of(gpu_type)):
            return gpu_shortfall(count=needed, gpu_type=gpu_type, inventory=inventory)
        return project.gpu_cap_shortfall(needed)

    window: dict[tuple[int, uuid.UUID], list[Queued]] = defaultdict(list)  # per priority and project, in order
    order = dispatch_order(in_use, window=WINDOW, host=settings.HOSTNAME)
    beyond = {(run.priority, run.project_id): run for run in order if run.beyond and gpus_needed(run)}
    for place, run in enumerate(run for run in order if not run.beyond):
        window[run.priority, run.project_id].append(run)
        needed = gpus_needed(run)
        gpu_type = gpu_type_wanted(run)
        usable = usable_of(gpu_type)
        holders = reservations.look_at(run)
        reserved = set().union(*(holder.reserved for holder in holders))
        firsts = [first for holder in holders if (first := holder.first_sharing(usable)) is not None]
        ahead = min(firsts, key=lambda waiting: waiting.place).run if firsts else None
        if not needed:
            reason = ""
        elif never := never_starts(needed, gpu_type, run.project):
            reason = never  # and it holds nothing back
        elif run.project_id in capped:
            reason = f"waiting for GPUs behind run {capped[run.project_id]} of the same project"
        elif ahead is not None and len(usable - reserved) < needed:
            reason = _behind(ahead, run)
            reservations.add(_Waiting(run, place, usable))
        elif reason := _over_project_cap(run, needed, in_use):
            capped[run.project_id] = run
        if reason:
            reasons.wait(run, reason)
            continue
        candidates = (usable - reserved) & free
        if len(candidates) < needed:  # known without asking the ledger
            reservations.add(_Waiting(run, place, usable))
            _short_of_gpus(run, ahead, needed=needed, usable=usable - reserved, reasons=reasons, short=short)
            continue
        whole = _whole(run)
        if whole is None or not whole.take_lease(
            owner, seconds=settings.SUPERVISOR_LEASE_SECONDS, where=Q(status=RunStatus.QUEUED)
        ):
            continue
        gpu_indices: list[int] = []
        if needed:
            try:
                gpu_indices = claim_gpus(
                    holder_kind=HolderKind.RUN,
                    holder_id=run.pk,
                    holder_label=str(run),
                    count=needed,
                    gpu_type=gpu_type,
                    excluding=reserved,
                )
            except GpusUnavailable:  # another process claimed them a moment ago
                whole.release_lease(owner)
                free -= set(candidates)
                reservations.add(_Waiting(run, place, usable))
                _short_of_gpus(run, ahead, needed=needed, usable=usable - reserved, reasons=reasons, short=short)
                continue
        free -= set(gpu_indices)
        if services.start_run(run=whole, gpu_indices=gpu_indices, lease_owner=owner):
            in_use[run.project_id] += len(gpu_indices)
            started.append(whole)
    _tell_shortages(short, inventory, reasons)
    reasons.write()
    _tell_the_rest(window, beyond, reasons, reservations, capped)
    return started


def _tell_the_rest(
    window: dict[tuple[int, uuid.UUID], list[Queued]],
    beyond: dict[tuple[int, uuid.UUID], Queued],
    reasons: _Reasons,
    reservations: _Reservations,
    capped: dict[uuid.UUID, Queued],
) -> None:
    """The reason of the GPU runs of a project and priority beyond the window: what its last run looked at
    waits for when another project's run holds GPUs back from it, else its own project's earlier runs.
    The reason names no run, so it seldom changes; the first run beyond the window, read with it, shows
    whether they need telling (they are told together)."""
    for (priority, project_id), first_beyond in beyond.items():
        looked_at = window[priority, project_id]
        if not looked_at:
            continue
        given = reasons.given.get(looked_at[-1].pk, "")
        if given.startswith("waiting for GPUs held for"):
            reason = given
        elif project_id in capped or reservations.by_project[project_id].runs:
            reason = BEHIND_OWN_PROJECT
        else:
            continue  # its last run looked at is starting: the others are looked at next pass
        if first_beyond.queue_reason == reason:
            continue
        rest = dispatchable_on(Run.objects.in_dispatch_order(), settings.HOSTNAME)
        rest = rest.filter(priority=priority, project_id=project_id)
        rest.exclude(pk__in=[run.pk for run in looked_at]).exclude(queue_reason=reason).update(queue_reason=reason)


def _short_of_gpus(
    run: Queued,
    ahead: Queued | None,
    *,
    needed: int,
    usable: frozenset[int],
    reasons: _Reasons,
    short: list[tuple[Queued, frozenset[int]]],
) -> None:
    """A run that may take GPUs finds too few free: behind the run ahead of it, preempting, or short."""
    if ahead is not None:
        reasons.wait(run, _behind(ahead, run))
    elif preempting := healing.preempt_for(run, needed=needed, usable=usable):
        reasons.wait(run, preempting)
    else:
        short.append((run, usable))


def _tell_shortages(
    short: Iterable[tuple[Queued, frozenset[int]]], inventory: Sequence[Gpu], reasons: _Reasons
) -> None:
    """Say how many of the GPUs it may take are free for each run still waiting, as they are after this pass."""
    short = list(short)
    free = {gpu.index for gpu in free_gpus(inventory)} if short else set()
    for run, candidates in short:
        count, gpu_type = gpu_request(run.resources)
        reasons.wait(
            run, waiting_for(count=count, gpu_type=gpu_type, free=len(candidates & free), candidates=len(candidates))
        )
