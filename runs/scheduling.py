"""Which queued run starts next, and which runs a waiting one holds back: priority, then fair share.

The rule, which the README's "Scheduling and fair share" states for users:

1. Priority first. People other than staff launch a run at most at its project's ceiling
   (`Project.max_priority`, set by staff; DEFAULT_MAX_PRIORITY when blank).
2. Within a priority, projects take turns by GPUs: a run's share is the GPUs its project's
   runs hold in the ledger plus those its project's runs ahead of it ask for (of a higher
   priority, or queued before it); the smallest share goes first, between equal shares the
   project that started a GPU run least recently, then the run queued first. So a project's
   own runs go first come first served, and a project holding few GPUs gets turns until it
   has caught up. A run's `queue_position` is its place in this order (1: first), counted
   by the database in the order the dispatcher reads (DISPATCH_ORDER).
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

A pass starts at most DISPATCH_STARTS_PER_PASS runs; the runs after the last it started are
looked at by the next pass, a supervisor tick later, so that a freed cluster's many starts (each
a process, a container or a Slurm job) do not hold up watching the running runs.

Slurm allocates its own GPUs: its runs go to sbatch at their turn and wait in Slurm's
queue. Dispatch is safe to run in several processes at once: a run is launched only by
whoever holds its lease. On several hosts, each host's dispatch starts local runs launched on
that host only (`Run.host`: its GPUs, its training folder, its processes), and Docker and Slurm
runs whichever host gets there first; projects' shares count their GPUs on every host.

A pass costs a handful of queries however long the queue (bench/p8_queue_scale.py: 15,000
waiting runs): the database counts each project's queue at each priority (a lane) in one pass
over the queue, with no sort, and the first `runs.models.WINDOW` runs of each lane, which are all a pass could
start, are read as light rows (`Queued`) in one query through the index of each project's queue,
then summed and sorted into dispatch order here; what each one holds back is kept as running
unions per project, per higher priority and for old runs instead of comparing every pair; only a
run that may start is read whole; the queue reasons that changed are written in one UPDATE (up to
REASONS_PER_PASS of them); and a lane's runs beyond its window are told that they wait behind their own
project's earlier runs when they are queued (`RunQuerySet.enqueue`), a pass telling only the few that
were not, a bounded number at a time (`_tell_the_rest`). The statements whose conditions grow with the lanes or
the reasons (the windows, the reasons' list of values) are written as SQL here: Django takes longer to build
them than the database takes to answer. `queue_position` still counts the whole queue: the runs
of higher priorities by project and priority, those of its own by their shares (`_positions`).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Field,
    Func,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from gpus.inventory import Gpu, list_gpus
from gpus.models import GpuClaim, HolderKind
from gpus.services import (
    GpusUnavailable,
    claim_gpus,
    claim_listed,
    free_gpus,
    gpu_shortfall,
    most_free_memory_first,
    release_gpus,
    waiting_for,
)
from llmplatform import leases
from llmplatform.sentences import gettext_noop
from projects.models import Project
from runs import healing, services
from runs import models as run_models
from runs.executors import EXECUTOR_CLASSES, get_executor
from runs.models import BEHIND_OWN_PROJECT, Artifact, Run, RunQuerySet, RunStatus, gpu_request

REASON_LENGTH = Run._meta.get_field("queue_reason").max_length or 255
# Changed queue reasons a pass writes at most, first in dispatch order; the rest are written by the passes after it
# (a queue reason is advice, and each reason written costs an entry in every index of the runs' table: 250 of them
# took 12-20 ms on PostgreSQL). Also within what SQLite takes as one statement's parameters.
REASONS_PER_PASS = 100
# Runs beyond their lane's window a pass tells BEHIND_OWN_PROJECT at most (see `_tell_the_rest`).
TOLD_PER_PASS = 200


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
    resume_source_artifact_id: uuid.UUID | None
    lease_owner: str  # the process starting it, if one is
    ledger_gpus: int  # see `gpus_needed`
    resume_from: str | None = None  # the name of the checkpoint it resumes from
    asked_ahead: int = 0  # GPUs its project's runs ahead of it ask for (see `FairShare.order`)
    project: Project = field(init=False)
    status: str = RunStatus.QUEUED

    # As `queued_runs` reads them; `created_at` as text (see `_UtcText`).
    FIELDS = (
        "pk",
        "name",
        "project_id",
        "priority",
        "created_at_text",
        "resources",
        "executor",
        "queue_reason",
        "preempted_at",
        "resume_source_artifact_id",
        "lease_owner",
        "ledger_gpus",
    )

    def __str__(self) -> str:
        return self.name or str(self.pk)

    def get_status_display(self) -> str:
        return str(RunStatus.QUEUED.label)


Lane = tuple[uuid.UUID, int]  # a project's queued runs at one priority: (project, priority)


class _UtcText(Func):
    """A moment as the text of its UTC time ("2026-12-03 17:16:35.035181"), which Python reads in C (`_read_utc`):
    Django reads PostgreSQL's timestamps in Python, 5 ms a pass for the 640-odd of the windows. SQLite keeps them
    as this text already (cast: its driver would read a column declared a datetime as one)."""

    output_field = CharField()
    template = "CAST(%(expressions)s AS text)"

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def _read_utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _per_project(values: Mapping[uuid.UUID, int]) -> Case:
    """A value per project, for the run of the row (0 for projects not in `values`)."""
    return _case([(Q(project_id=project), value) for project, value in values.items()])


def _per_lane(values: Mapping[Lane, int]) -> Case:
    """A value per project and priority, for the run of the row (0 for those not in `values`)."""
    return _case([(Q(project_id=project, priority=priority), value) for (project, priority), value in values.items()])


def _case(values: Iterable[tuple[Q, int]]) -> Case:
    """A value for the rows of each condition, 0 for other rows."""
    whens = [When(rows, then=Value(value)) for rows, value in values if value]
    # Cast: an ORDER BY of a bare 0, when no row has a value, would name a column by its position.
    return Case(*whens, default=Cast(Value(0), BigIntegerField()), output_field=BigIntegerField())


# The dispatch order (rules 1 and 2), over the fields `FairShare.order` adds. Higher priority first; within a
# priority the run whose project's `share` is smallest: the GPUs its runs hold, plus those its runs ahead of
# this one in the queue ask for (of a higher priority, or queued before it), so projects take turns by GPUs;
# between equal shares the project whose `turn` comes first (0: it never started a GPU run, then the one that
# started one least recently); then first come first served. `queue_position` counts in it, the dispatcher
# sorts its few rows by the same key (`FairShare.key`), and both sum shares alike (`_asked_above`).
DISPATCH_ORDER = ("-priority", "share", "turn", "created_at", "pk")


@dataclass(frozen=True)
class FairShare:
    """What the dispatch order takes besides the queued runs' own rows, read once: the GPUs each project's
    runs hold in the ledger, each project's turn between equal shares, and the projects with queued runs."""

    held: Counter[uuid.UUID]
    turns: dict[uuid.UUID, int]
    projects: dict[uuid.UUID, Project]

    @classmethod
    def now(cls, held: Counter[uuid.UUID] | None = None) -> FairShare:
        """As the ledger and the queue stand (`held`: `gpus_in_use()`, when the caller has it)."""
        gpu_runs = Run.objects.filter(project=OuterRef("pk"), started_at__isnull=False).exclude(gpu_indices=[])
        latest = Subquery(gpu_runs.order_by("-started_at").values("started_at")[:1])  # index run_project_started
        queued = Exists(Run.objects.in_dispatch_order().filter(project=OuterRef("pk")))
        projects: dict[uuid.UUID, Project] = {}
        last_gpu_starts: dict[uuid.UUID, datetime] = {}
        for project in Project.objects.filter(queued).annotate(last_gpu_start=latest):
            projects[project.pk] = project
            if project.last_gpu_start:  # type: ignore[attr-defined]  # the annotation
                last_gpu_starts[project.pk] = project.last_gpu_start  # type: ignore[attr-defined]
        rank = {start: number for number, start in enumerate(sorted(set(last_gpu_starts.values())), start=1)}
        turns = {pk: rank[start] for pk, start in last_gpu_starts.items()}
        return cls(held=gpus_in_use() if held is None else held, turns=turns, projects=projects)

    def order(self, runs: RunQuerySet, sizes: Mapping[Lane, tuple[int, int]] | None = None) -> RunQuerySet:
        """Queued `runs` (each project's whole queue from some priority up, or of some priorities of such
        a queue, whose `sizes` the caller read then) with their `share` and `turn`, in dispatch order. What
        each project's runs of higher priorities ask for is summed first, in one query (`_lane_sizes`), so
        the database sums only along each project's queue at one priority."""
        shares = self.shares(runs, _lane_sizes(runs) if sizes is None else sizes)
        return shares.annotate(turn=_per_project(self.turns)).order_by(*DISPATCH_ORDER)

    def shares(
        self, runs: RunQuerySet, sizes: Mapping[Lane, tuple[int, int]], priorities: Collection[int] | None = None
    ) -> RunQuerySet:
        """`runs` (see `order`; only of `priorities`, when given) with their `share`, unordered."""
        above = _asked_above(sizes)
        start = {
            lane: self.held[lane[0]] + asked
            for lane, asked in above.items()
            if priorities is None or lane[1] in priorities
        }
        return runs.annotate(share=_per_lane(start) + _asked_in_lane())

    def key(self, run: Queued) -> tuple[int, int, int, datetime, uuid.UUID]:
        """DISPATCH_ORDER's key of a run read by `queued_runs`, for sorting in Python."""
        share = self.held[run.project_id] + run.asked_ahead
        return (-run.priority, share, self.turns.get(run.project_id, 0), run.created_at, run.pk)


def _asked_in_lane() -> Any:
    """What the queued runs of a queued run's project and priority (its lane) queued before it ask for:
    a running sum along each lane."""
    in_lane: dict[str, Any] = {"partition_by": [F("project_id"), F("priority")], "order_by": [F("created_at"), F("pk")]}
    return Window(Sum("ledger_gpus"), **in_lane) - F("ledger_gpus")


def _lane_sizes(queue: RunQuerySet) -> dict[Lane, tuple[int, int]]:
    """How many runs each lane of `queue` (queued runs) holds, and the GPUs they ask for."""
    sizes = queue.order_by().values_list("project_id", "priority").annotate(runs=Count("pk"), asked=Sum("ledger_gpus"))
    return {(project, priority): (runs, asked) for project, priority, runs, asked in sizes}


def _asked_above(sizes: Mapping[Lane, tuple[int, int]]) -> dict[Lane, int]:
    """For each lane of `sizes` (see `_lane_sizes`), what its project's runs of higher priorities ask for."""
    above: dict[Lane, int] = {}
    asked: Counter[uuid.UUID] = Counter()
    for project, priority in sorted(sizes, key=lambda lane: -lane[1]):
        above[project, priority] = asked[project]
        asked[project] += sizes[project, priority][1]
    return above


def _runs_above(sizes: Mapping[Lane, tuple[int, int]], priority: int) -> int:
    """How many runs of `sizes` (see `_lane_sizes`) have a higher priority than `priority`."""
    return sum(runs for (_, lane_priority), (runs, _) in sizes.items() if lane_priority > priority)


@dataclass(frozen=True, slots=True)
class _CountedLane:
    """A project's queued runs at one priority, as a pass counts them: the GPUs they ask for; how many take
    ledger GPUs, how many of those are not yet told BEHIND_OWN_PROJECT, and how many take none; and, of
    each kind with more runs than the window, when its window's last run was queued."""

    project_id: uuid.UUID
    priority: int
    asked: int
    with_gpus: int
    untold: int
    without_gpus: int
    window_end_with_gpus: datetime | None
    window_end_without_gpus: datetime | None

    def window(self) -> tuple[str, list[Any]]:
        """Its runs in the window, and maybe a few queued at the moment the window ends, after it: SQL for
        the WHERE clause (see `_in_windows`) and its parameters."""
        columns = _queue_columns()
        lane = f"{columns['project_id']} = %s AND {columns['priority']} = %s"
        params = [_db_value("project_id", self.project_id), self.priority]
        if not self.with_gpus or not self.without_gpus:  # all of one kind: nothing tells the kinds apart
            end = self.window_end_with_gpus or self.window_end_without_gpus
            if end is None:
                return f"({lane})", params
            return f"({lane} AND {columns['created_at']} <= %s)", [*params, _db_value("created_at", end)]
        kinds = []
        for kind, end in (("> 0", self.window_end_with_gpus), ("= 0", self.window_end_without_gpus)):
            if end is None:
                kinds.append(f"{columns['ledger_gpus']} {kind}")
            else:
                kinds.append(f"({columns['ledger_gpus']} {kind} AND {columns['created_at']} <= %s)")
                params.append(_db_value("created_at", end))
        return f"({lane} AND ({' OR '.join(kinds)}))", params


def _run_field(name: str) -> Field[Any, Any]:
    found = Run._meta.get_field(name)
    assert isinstance(found, Field)
    return found


@cache
def _queue_columns() -> dict[str, str]:
    """The quoted columns of runs that SQL written here names (see `_in_windows`), by field name."""
    quote = connection.ops.quote_name
    return {
        name: f"{quote(Run._meta.db_table)}.{quote(_run_field(name).get_attname_column()[1])}"
        for name in ("id", "project_id", "priority", "created_at", "ledger_gpus")
    }


def _db_value(name: str, value: Any) -> Any:
    """`value` of the runs' field `name` as the database takes it (a UUID is text on SQLite)."""
    return _run_field(name).get_db_prep_value(value, connection)


def _in_windows(lanes: Iterable[_CountedLane]) -> ExpressionWrapper:
    """A filter for the runs of the windows of `lanes`. Its SQL is written here rather than built from a
    Q per lane: Django takes longer to build those 40-odd lookups than the database takes to answer."""
    windows = [lane.window() for lane in lanes]
    sql = " OR ".join(where for where, _ in windows)
    params = [param for _, lane_params in windows for param in lane_params]
    return ExpressionWrapper(RawSQL(f"({sql})", params), output_field=BooleanField())  # noqa: S611


def _window_end(queue: RunQuerySet, kind: Q, window: int) -> Subquery:
    """When the `window`-th run of `kind` of the row's lane was queued."""
    lane = queue.filter(kind, project_id=OuterRef("project_id"), priority=OuterRef("priority"))
    return Subquery(lane.order_by("created_at", "pk").values("created_at")[window - 1 : window])


def _lanes(queue: RunQuerySet, window: int) -> list[_CountedLane]:
    """The lanes of `queue` (queued runs, unordered), counted by the database in one pass over it; where
    a lane's window ends is looked up, through the index of each project's queue, only where it has one."""
    with_gpus, without_gpus = Q(ledger_gpus__gt=0), Q(ledger_gpus=0)
    # Of the columns of the index run_queue_lanes only, which PostgreSQL then reads instead of the queue's rows.
    counts = queue.values("project_id", "priority").annotate(
        asked=Sum("ledger_gpus"),
        with_gpus=Count("ledger_gpus", filter=with_gpus),
        untold=Count("ledger_gpus", filter=with_gpus & Q(told_behind=False)),
        without_gpus=Count("ledger_gpus", filter=without_gpus),
    )
    lanes = counts.annotate(
        window_end_with_gpus=Case(When(with_gpus__gt=window, then=_window_end(queue, with_gpus, window))),
        window_end_without_gpus=Case(When(without_gpus__gt=window, then=_window_end(queue, without_gpus, window))),
    )
    return [_CountedLane(**row) for row in lanes]


def _queued_before(created_at: datetime, pk: uuid.UUID) -> Q:
    """Runs queued before the run queued at `created_at` with key `pk` (first come first served)."""
    return Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk)


def _ask_ahead(rows: Sequence[Queued], lanes: Sequence[_CountedLane], queue: RunQuerySet) -> None:
    """Set `asked_ahead` of the windows' `rows` as `FairShare.order` sums it: what their project's lanes of a
    higher priority ask for, and what their lane's runs queued before them ask for. Those are in the
    window, but for a run taking no GPUs queued after the last GPU run of a full window: the database
    sums what the runs before those ask for, in one query."""
    above = _asked_above(
        {(lane.project_id, lane.priority): (lane.with_gpus + lane.without_gpus, lane.asked) for lane in lanes}
    )
    full = {(lane.project_id, lane.priority) for lane in lanes if lane.window_end_with_gpus is not None}
    in_lane: dict[Lane, list[Queued]] = defaultdict(list)
    for row in sorted(rows, key=lambda row: (row.created_at, row.pk)):
        in_lane[row.project_id, row.priority].append(row)
    past: list[Queued] = []  # after the last GPU run of a full window
    for lane_key, lane_rows in in_lane.items():
        ahead = above[lane_key]
        for row in lane_rows:
            row.asked_ahead = ahead
            ahead += row.ledger_gpus
        if lane_key in full:
            last = max((row.created_at, row.pk) for row in lane_rows if row.ledger_gpus)
            past += [row for row in lane_rows if not row.ledger_gpus and (row.created_at, row.pk) > last]
    if not past:
        return
    before = {
        f"before_{number}": Sum(
            "ledger_gpus",
            filter=Q(project_id=row.project_id, priority=row.priority) & _queued_before(row.created_at, row.pk),
        )
        for number, row in enumerate(past)
    }
    sums = queue.aggregate(**before)
    for number, row in enumerate(past):
        row.asked_ahead = above[row.project_id, row.priority] + (sums[f"before_{number}"] or 0)


@dataclass(frozen=True, slots=True)
class QueueWindow:
    """The queued runs one dispatch pass may start, in dispatch order, and per priority and project how many
    of its GPU runs beyond them are not yet told BEHIND_OWN_PROJECT."""

    runs: list[Queued]
    untold: dict[tuple[int, uuid.UUID], int]


def queued_runs(fair: FairShare, window: int, *, host: str | None = None) -> QueueWindow:
    """The first `window` runs of each project at each priority (a lane), of those that take ledger GPUs and
    of those that take none (see runs.models.WINDOW), of the runs `host` may dispatch (see `dispatchable_on`).

    The database counts the lanes in one pass over the queue and reads the windows' runs through the index
    of each project's queue; their shares are summed and they are sorted here, by `FairShare.key`, sparing
    the database a sort of the whole queue.
    """
    queue = dispatchable_on(Run.objects.in_dispatch_order().order_by(), host)
    lanes = _lanes(queue, window)
    if not lanes:
        return QueueWindow([], {})
    in_lanes: dict[tuple[uuid.UUID, int, bool], list[Queued]] = defaultdict(list)
    windows = queue.filter(_in_windows(lanes)).annotate(created_at_text=_UtcText("created_at"))
    for pk, name, project_id, priority, created_at, *fields in windows.values_list(*Queued.FIELDS):
        row = Queued(pk, name, project_id, priority, _read_utc(created_at), *fields)
        in_lanes[row.project_id, row.priority, row.ledger_gpus > 0].append(row)
    rows: list[Queued] = []
    for lane_rows in in_lanes.values():
        lane_rows.sort(key=lambda row: (row.created_at, row.pk))
        rows += lane_rows[:window]  # not those queued at the moment the window ends, after it
    _ask_ahead(rows, lanes, queue)
    rows.sort(key=fair.key)
    told = Counter(
        (row.priority, row.project_id) for row in rows if row.ledger_gpus and row.queue_reason != BEHIND_OWN_PROJECT
    )
    untold = {
        (lane.priority, lane.project_id): lane.untold - told[lane.priority, lane.project_id]
        for lane in lanes
        if lane.window_end_with_gpus is not None
    }
    # A run queued since `fair` was read may be its project's first.
    projects = fair.projects | Project.objects.in_bulk({row.project_id for row in rows} - fair.projects.keys())
    # Few runs resume from a checkpoint: their names are read apart, sparing the queue a join.
    resumed = {row.resume_source_artifact_id for row in rows} - {None}
    checkpoints = dict(Artifact.objects.filter(pk__in=resumed).values_list("pk", "name")) if resumed else {}
    for row in rows:
        row.project = projects[row.project_id]
        row.resume_from = checkpoints.get(row.resume_source_artifact_id) if row.resume_source_artifact_id else None
    return QueueWindow(rows, untold)


def _claims_of_runs() -> tuple[set[int], dict[tuple[str, int], tuple[Run, str]]]:
    """The GPUs of this host held in the ledger, and for each GPU of any host held by a run, the run (its
    project, status and lease) and its holder id as the claim has it."""
    claims = list(GpuClaim.objects.values_list("host", "gpu_index", "holder_kind", "holder_id"))
    holder_of: dict[tuple[str, int], tuple[uuid.UUID, str]] = {}
    for host, index, kind, holder in claims:
        if kind == HolderKind.RUN:
            try:
                holder_of[host, index] = (uuid.UUID(holder), holder)
            except ValueError:
                continue  # not a run's claim: no project's share
    fields = ("project_id", "status", "executor_state", "lease_owner", "lease_expires_at")
    runs = Run.objects.only(*fields).in_bulk({run_id for run_id, _ in holder_of.values()})
    held_by_runs = {gpu: (runs[run_id], holder) for gpu, (run_id, holder) in holder_of.items() if run_id in runs}
    return {index for host, index, _, _ in claims if host == settings.HOSTNAME}, held_by_runs


def gpus_in_use() -> Counter[uuid.UUID]:
    """GPUs the ledger holds for each project's runs, on every host (a cancelled run holds them until its
    processes are gone)."""
    return Counter(run.project_id for run, _ in _claims_of_runs()[1].values())


def _tidy_ledger() -> tuple[Counter[uuid.UUID], set[int]]:
    """`gpus_in_use()` and the GPUs of this host held at all, once the claims of runs that need them no
    more are given back (see `_needs_no_gpus`)."""
    held, held_by_runs = _claims_of_runs()
    given_back = {gpu: holder for gpu, (run, holder) in held_by_runs.items() if _needs_no_gpus(run)}
    if given_back:
        # Claim by claim: a run started again since then holds other GPUs, which stay its own.
        GpuClaim.objects.filter(
            reduce(
                or_, (Q(host=host, gpu_index=index, holder_id=holder) for (host, index), holder in given_back.items())
            )
        ).delete()
    in_use = Counter(run.project_id for gpu, (run, _) in held_by_runs.items() if gpu not in given_back)
    return in_use, held - {index for host, index in given_back if host == settings.HOSTNAME}


def _needs_no_gpus(run: Run) -> bool:
    """Whether the GPUs a run holds in the ledger can go back: it has ended (a supervisor killed between
    recording the end and releasing them; a cancelled run keeps them until its stop is carried out), or
    it waits in the queue and nobody is starting it (a dispatcher killed between claiming and starting)."""
    if run.is_finished:
        return "stop" not in run.executor_state
    return run.status == RunStatus.QUEUED and not run.executor_state and not run.held_by_another_live_process()


def dispatch_order(fair: FairShare | None = None, *, host: str | None = None) -> QueueWindow:
    """The queued runs a dispatch pass may start (`host`: see `queued_runs`), in dispatch order."""
    return queued_runs(fair or FairShare.now(), run_models.WINDOW, host=host)


@dataclass(slots=True)
class _Place:
    """A queued run's key in DISPATCH_ORDER."""

    pk: uuid.UUID
    priority: int
    share: int
    turn: int
    created_at: datetime

    def ahead(self, turns: Mapping[uuid.UUID, int]) -> Q:
        """The runs of its priority ahead of it, of those `FairShare.shares` annotates (`turns`: see
        `FairShare`; the projects whose turn comes before its project's, or with it, are named, sparing
        the database a turn for every run)."""
        queued_before = _queued_before(self.created_at, self.pk)
        if self.turn:
            earlier_turn = ~Q(project_id__in=[project for project, turn in turns.items() if turn >= self.turn])
            same_turn = Q(project_id__in=[project for project, turn in turns.items() if turn == self.turn])
            tied = earlier_turn | same_turn & queued_before
        else:  # its project never started a GPU run: no turn comes before its, and those that did come after
            tied = ~Q(project_id__in=list(turns)) & queued_before
        return Q(priority=self.priority) & (Q(share__lt=self.share) | Q(share=self.share) & tied)


def _positions(
    places: Sequence[_Place], fair: FairShare, queue: RunQuerySet, sizes: Mapping[Lane, tuple[int, int]] | None = None
) -> dict[uuid.UUID, int]:
    """Where each of `places` stands in dispatch order among `queue` (1: first), however long the queue:
    behind every run of a higher priority, counted with `sizes` (see `_lane_sizes`; read here unless the
    caller has them, of `queue` from the lowest of their priorities up), and behind those of its priority
    ahead of it, counted in one query over the runs of their priorities only."""
    if not places:
        return {}
    lowest = min(place.priority for place in places)
    sizes = _lane_sizes(queue.filter(priority__gte=lowest)) if sizes is None else sizes
    counts = {f"ahead_{number}": Count("pk", filter=place.ahead(fair.turns)) for number, place in enumerate(places)}
    priorities = {place.priority for place in places}
    ahead = fair.shares(queue.filter(priority__in=priorities), sizes, priorities).aggregate(**counts)
    return {
        place.pk: _runs_above(sizes, place.priority) + ahead[f"ahead_{number}"] + 1
        for number, place in enumerate(places)
    }


def queue_positions(runs: Sequence[Run], fair: FairShare) -> dict[uuid.UUID, int]:
    """Where each of `runs`, queued runs read through `fair.order`, stands in dispatch order (of every host)."""
    places = [_Place(run.pk, run.priority, run.share, run.turn, run.created_at) for run in runs]  # type: ignore[attr-defined]
    return _positions(places, fair, Run.objects.in_dispatch_order())


def queue_position(run: Run) -> int | None:
    """Where a queued run stands in dispatch order (1: first) among the runs the dispatch that will start
    it looks at: for a local run, its host's; None once it has left the queue."""
    if run.status != RunStatus.QUEUED or run.executor_state:
        return None
    host = run.host if run.host and get_executor(run.executor).bound_to_host else None
    queue = dispatchable_on(Run.objects.in_dispatch_order(), host).filter(priority__gte=run.priority)
    fair = FairShare.now()
    sizes = _lane_sizes(queue)
    # Its share as `FairShare.order` sums it: the GPUs its project holds, and those its project's runs
    # of a higher priority or of its priority queued before it ask for.
    lane = queue.filter(_queued_before(run.created_at, run.pk), project_id=run.project_id, priority=run.priority)
    before = lane.aggregate(gpus=Sum("ledger_gpus"))["gpus"] or 0
    share = fair.held[run.project_id] + _asked_above(sizes).get((run.project_id, run.priority), 0) + before
    place = _Place(run.pk, run.priority, share, fair.turns.get(run.project_id, 0), run.created_at)
    return _positions([place], fair, queue, sizes)[run.pk]


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
        return gettext_noop("waiting for GPUs behind run {run}").format(run=waiting)
    if waiting.priority > run.priority:
        return gettext_noop("waiting for GPUs held for a run of another project with priority {priority}").format(
            priority=waiting.priority
        )
    return gettext_noop(
        "waiting for GPUs held for a run of another project queued for over {seconds:g} s "
        "(GPU_RESERVATION_AFTER_SECONDS)"
    ).format(seconds=settings.GPU_RESERVATION_AFTER_SECONDS)


def _over_project_cap(run: Queued, needed: int, in_use: Counter[uuid.UUID]) -> str:
    """Why the project's GPU cap keeps the run waiting for now, or "" when it does not."""
    cap = run.project.max_concurrent_gpus
    held = in_use[run.project_id]
    if cap is None or held + needed <= cap:
        return ""
    return gettext_noop("waiting for project {name!r}'s GPU cap: {held} of its {cap} in use, {needed} needed").format(
        name=run.project.name, held=held, cap=cap, needed=needed
    )


class _Reasons:
    """Queue reasons that changed in this pass, written at its end in one UPDATE (see REASONS_PER_PASS)."""

    def __init__(self) -> None:
        self.changed: dict[uuid.UUID, str] = {}

    def wait(self, run: Queued, reason: str) -> None:
        if run.preempted_at is not None:  # queued again by a preemption, and not started since
            reason = healing.preempted_note(run.resume_from, reason)
        reason = reason[:REASON_LENGTH]
        if run.queue_reason != reason:
            self.changed[run.pk] = reason

    def write(self, in_order: Iterable[Queued]) -> None:
        """Write the first REASONS_PER_PASS of the changed reasons of `in_order` (the pass's runs, in dispatch
        order), joined to the runs' keys as a list of values: a CASE over the keys compared each row with every
        key, and Django takes longer to build either than the database to run it."""
        first = [run.pk for run in in_order if run.pk in self.changed][:REASONS_PER_PASS]
        if not first:
            return
        quote = connection.ops.quote_name
        table, status = quote(Run._meta.db_table), quote(_run_field("status").get_attname_column()[1])
        reason_column = quote(_run_field("queue_reason").get_attname_column()[1])
        values = ", ".join("(%s, %s)" for _ in first)
        params = [value for pk in first for value in (_db_value("id", pk), self.changed[pk])]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {reason_column} = reasons.column2 FROM (VALUES {values}) AS reasons "  # noqa: S608
                f"WHERE {_queue_columns()['id']} = reasons.column1 AND {table}.{status} = %s",
                [*params, RunStatus.QUEUED.value],
            )


@dataclass(frozen=True, slots=True)
class _Start:
    """A run a pass starts: the GPUs chosen for it, those held back from it, and those it may use."""

    run: Queued
    gpu_indices: list[int]
    excluding: frozenset[int]
    usable: frozenset[int]


def _start(starts: list[_Start], *, owner: str, short: list[tuple[Queued, frozenset[int]]]) -> list[Run]:
    """Start the runs a pass chose, in order; those started.

    Their leases are taken in one UPDATE (of runs still queued), the runs read whole in one query and
    their GPUs claimed in one INSERT; where another process claimed one of those GPUs a moment ago,
    each run claims its own again, and one that finds too few free waits (in `short`) for the next pass.
    """
    if not starts:
        return []
    queued = dispatchable_on(Run.objects.in_dispatch_order(), settings.HOSTNAME).filter(
        pk__in=[start.run.pk for start in starts]
    )
    expires = timezone.now() + timedelta(seconds=settings.SUPERVISOR_LEASE_SECONDS)
    leases.take_leases(queued, owner, expires=expires, seen_holders=[start.run.lease_owner for start in starts])
    whole = queued.filter(lease_owner=owner).select_related("project", "resume_source_artifact").in_bulk()
    left = [start for start in starts if start.run.pk in whole]
    claimed = claim_listed(
        GpuClaim(
            host=settings.HOSTNAME,
            gpu_index=index,
            holder_kind=HolderKind.RUN,
            holder_id=str(start.run.pk),
            holder_label=str(start.run),
        )
        for start in left
        for index in start.gpu_indices
    )
    started = []
    try:
        while left:
            start = left.pop(0)
            run, gpu_indices = whole[start.run.pk], start.gpu_indices
            if gpu_indices and not claimed:
                try:
                    gpu_indices = claim_gpus(
                        holder_kind=HolderKind.RUN,
                        holder_id=run.pk,
                        holder_label=str(run),
                        count=len(gpu_indices),
                        gpu_type=gpu_type_wanted(start.run),
                        excluding=start.excluding,
                    )
                except GpusUnavailable:  # another process took them
                    run.release_lease(owner)
                    short.append((start.run, start.usable))
                    continue
            if services.start_run(run=run, gpu_indices=gpu_indices, lease_owner=owner):
                started.append(run)
    finally:
        for start in left:  # an error stopped the pass: the rest wait in the queue as they did
            if claimed:
                release_gpus(holder_kind=HolderKind.RUN, holder_id=start.run.pk)
            whole[start.run.pk].release_lease(owner)
    return started


def dispatch_queued_runs() -> list[Run]:
    """Start every queued run that can start now, in fair-share order; return those started."""
    owner = leases.owner_name("dispatch")
    in_use, held = _tidy_ledger()
    inventory = list_gpus()
    free = {gpu.index for gpu in inventory} - held
    starts: list[_Start] = []  # the runs this pass starts, in order, with the GPUs chosen for them
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

    order = dispatch_order(FairShare.now(in_use), host=settings.HOSTNAME)
    for place, run in enumerate(order.runs):
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
            reason = gettext_noop("waiting for GPUs behind run {run} of the same project").format(
                run=capped[run.project_id]
            )
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
        gpu_indices = [gpu.index for gpu in most_free_memory_first(inventory) if gpu.index in candidates][:needed]
        free -= set(gpu_indices)
        in_use[run.project_id] += needed
        starts.append(_Start(run, gpu_indices, excluding=frozenset(reserved), usable=usable - reserved))
        if len(starts) >= settings.DISPATCH_STARTS_PER_PASS:
            break  # the runs after it are looked at by the next pass, a tick later
    started = _start(starts, owner=owner, short=short)
    _tell_shortages(short, inventory, reasons)
    reasons.write(order.runs)
    _tell_the_rest(order, reservations, capped)
    return started


def _tell_the_rest(order: QueueWindow, reservations: _Reservations, capped: dict[uuid.UUID, Queued]) -> None:
    """Tell the GPU runs of a project and priority beyond the window, once one of its runs waits, that they
    wait behind their project's earlier runs (BEHIND_OWN_PROJECT), which say what they wait for. Most were
    told so when they were queued (`RunQuerySet.enqueue`); this tells those it was not true of then (queued
    when the window had room, or pushed beyond it by a preempted run requeued ahead of them), at most
    TOLD_PER_PASS a pass, first come first told: a queue reason is advice, and no pass should write
    thousands of them. The reason names no run nor what those wait for, so each run is told once (`untold`:
    how many are not yet)."""
    in_window: dict[tuple[int, uuid.UUID], list[uuid.UUID]] = defaultdict(list)  # whether the pass reached it or not
    for run in order.runs:
        in_window[run.priority, run.project_id].append(run.pk)
    budget = TOLD_PER_PASS
    for (priority, project_id), count in order.untold.items():
        if budget <= 0:
            return
        if count <= 0 or (project_id not in capped and not reservations.by_project[project_id].runs):
            continue  # none of its runs looked at waits: the others are looked at next pass
        rest = dispatchable_on(Run.objects.in_dispatch_order(), settings.HOSTNAME)
        rest = rest.filter(priority=priority, project_id=project_id, ledger_gpus__gt=0)
        rest = rest.exclude(pk__in=in_window[priority, project_id])
        first = rest.exclude(queue_reason=BEHIND_OWN_PROJECT).order_by("created_at", "pk").values("pk")[:budget]
        budget -= Run.objects.filter(pk__in=first).update(queue_reason=BEHIND_OWN_PROJECT)


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
