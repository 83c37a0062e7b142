"""P8 a queue that scales: 15,000 queued runs, 3 priorities, 20 projects, 64 GPUs.

The dispatcher under test is the platform's own (`runs.scheduling.dispatch_queued_runs`,
fair share, GPU ledger, reservations, queue reasons), on a real database. Only the
trainers are simulated: starting a run marks it `running` on the GPUs the dispatcher
claimed (no process), and each run ends after a random simulated time (5–25 s), when its
GPUs go back to the ledger. The clock is simulated: one dispatch pass per simulated second
in which something changed (a run ended or arrived), the way the supervisor ticks.

At t = 0, 14,000 runs wait (9,000 of priority 0, 5,000 of priority 1) across 20 projects;
1,000 runs of priority 2 arrive during the simulation (Poisson, one every 6 s on average).
Runs ask for 1 (70 %), 2 (20 %), 4 (8 %) or 8 (2 %) GPUs. The inventory is GPU_IDS=0..63.

    python bench/p8_queue_scale.py --database postgres://postgres@127.0.0.1:5432/llmp_bench_p8

Goals: every run admitted; median wait of priority 2 ≤ 11 s simulated; each dispatch
pass ≤ 100 ms with 15,000 runs waiting (PostgreSQL).
"""

from __future__ import annotations

import gc
import heapq
import math
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from machine import machine
from runs_setup import parser, setup

PRIORITY_MIX = ((0, 9000), (1, 5000))
HIGH, HIGH_COUNT, HIGH_EVERY = 2, 1000, 6.0
GPU_MIX = ((1, 0.70), (2, 0.20), (4, 0.08), (8, 0.02))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


class PassSpending:
    """Where one dispatch pass's time went: its SQL statements (by kind) and Python's garbage collections."""

    def __init__(self) -> None:
        self.reset()
        self._collection_began = 0.0

    def reset(self) -> None:
        self.statements: list[tuple[str, float]] = []
        self.collections: list[tuple[int, float]] = []

    def statement(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append((sql, (time.perf_counter() - began) * 1000))

    def collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._collection_began = time.perf_counter()
        else:
            self.collections.append((info["generation"], (time.perf_counter() - self._collection_began) * 1000))

    def summary(self, total_ms: float) -> str:
        in_sql = sum(ms for _, ms in self.statements)
        in_gc = sum(ms for _, ms in self.collections)
        slowest = sorted(self.statements, key=lambda statement: -statement[1])[:3]
        named = "; ".join(f"{ms:.1f} ms {' '.join(sql.split())[:90]}" for sql, ms in slowest)
        generations = ",".join(str(generation) for generation, _ in self.collections)
        return (
            f"{total_ms:.1f} ms: SQL {in_sql:.1f} ms in {len(self.statements)} statements, "
            f"GC {in_gc:.1f} ms ({generations or 'none'}), rest (Python) {total_ms - in_sql - in_gc:.1f} ms; "
            f"slowest: {named}"
        )


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--gpus", type=int, default=64)
    arguments.add_argument("--projects", type=int, default=20)
    arguments.add_argument("--scale", type=float, default=1.0, help="fraction of the runs (a quick look)")
    arguments.add_argument("--max-passes", type=int, default=0, help="stop after this many passes (0: all)")
    arguments.add_argument("--seed", type=int, default=1)
    arguments.add_argument("--window", type=int, default=0, help="runs a pass reads of each lane (0: the platform's)")
    arguments.add_argument(
        "--slow-ms", type=float, default=90.0, help="print what each pass over this many milliseconds spent"
    )
    options = arguments.parse_args()
    os.environ["GPU_IDS"] = ",".join(str(index) for index in range(options.gpus))
    os.environ["GPU_RESERVATION_AFTER_SECONDS"] = "86400"  # simulated waits are short; real ones play no part
    setup(options.database)

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

    from gpus.models import GpuClaim, HolderKind
    from llmplatform import supervision
    from projects.models import Project
    from runs import models as run_models
    from runs import scheduling, services
    from runs.models import Run, RunStatus
    from runs.supervisor import RunSupervisor

    if options.window:
        run_models.WINDOW = options.window
    rng = random.Random(options.seed)
    Run.objects.all().delete()
    GpuClaim.objects.all().delete()
    Project.objects.filter(name__startswith="p8-").delete()
    user, _ = User.objects.get_or_create(username="p8", defaults={"is_staff": True})
    projects = Project.objects.bulk_create(
        Project(name=f"p8-{index:02d}", owner="p8", created_by=user, max_priority=HIGH)
        for index in range(options.projects)
    )
    created_at = Run._meta.get_field("created_at")
    created_at.auto_now_add = False  # the bench sets each run's arrival itself  # type: ignore[attr-defined]
    base = timezone.now()

    def new_run(priority: int, arrival: float, serial: int) -> Run:
        gpus = rng.choices([count for count, _ in GPU_MIX], weights=[weight for _, weight in GPU_MIX])[0]
        return Run(
            id=uuid.uuid4(),
            project=rng.choice(projects),
            name=f"r{serial}",
            priority=priority,
            resources={"gpu_count": gpus},
            executor="local",
            created_at=base + timedelta(seconds=arrival, microseconds=serial),
        )

    backlog = [
        new_run(priority, 0.0, serial)
        for priority, count in PRIORITY_MIX
        for serial in range(int(count * options.scale))
    ]
    rng.shuffle(backlog)
    for serial, run in enumerate(backlog):
        run.created_at = base + timedelta(microseconds=serial)
    started = time.perf_counter()
    Run.objects.enqueue(backlog)  # as the launch does, each told why it waits
    if connection.vendor == "postgresql":
        # The planner's statistics and the table's visibility map as a server's autovacuum leaves them (its
        # insert threshold vacuums a table grown by a fifth within a minute), not as an autoanalyze caught
        # the delete above: the index-only count of the lanes reads the rows of pages not known all-visible.
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(Run._meta.db_table)}")
    print(f"{len(backlog)} runs queued in {time.perf_counter() - started:.1f} s")
    arrivals: list[tuple[float, int]] = []
    moment = 0.0
    for serial in range(int(HIGH_COUNT * options.scale)):
        moment += rng.expovariate(1 / HIGH_EVERY)
        arrivals.append((moment, serial))

    arrived_at: dict[uuid.UUID, float] = {run.pk: 0.0 for run in backlog}
    priority_of: dict[uuid.UUID, int] = {run.pk: run.priority for run in backlog}
    queued_at_start = len(backlog)
    # A supervisor holds no 14,000 model instances: kept, they would make each garbage collection in a pass
    # walk them (about 150 ms of the first pass).
    del backlog
    RunSupervisor()  # as the supervisor's loop does when it starts: its duty, then what its process holds frozen
    supervision.keep_start_up_out_of_collections()
    waits: dict[int, list[float]] = {0: [], 1: [], HIGH: []}
    endings: list[tuple[float, uuid.UUID]] = []
    now = 0.0

    # Time inside the stand-in executor, so that a pass can also be shown without it: a real executor's
    # start (a process, a container, a Slurm job) costs what it costs at any queue length.
    in_starts = [0.0]

    def simulated_start(*, run: Run, gpu_indices: list[int], lease_owner: str) -> bool:
        """What the executor and `mark_running` do, without a process."""
        began = time.perf_counter()
        try:
            running = run.transition(
                RunStatus.QUEUED, RunStatus.RUNNING, started_at=timezone.now(), gpu_indices=gpu_indices, queue_reason=""
            )
        finally:
            run.release_lease(lease_owner)
            in_starts[0] += time.perf_counter() - began
        if running:
            waits[priority_of[run.pk]].append(now - arrived_at[run.pk])
            heapq.heappush(endings, (now + rng.uniform(5, 25), run.pk))
        return running

    services.start_run = simulated_start
    passes: list[tuple[int, float, float]] = []  # (runs waiting, milliseconds, of which in the executor's starts)
    spent = PassSpending()
    connection.execute_wrappers.append(spent.statement)
    gc.callbacks.append(spent.collection)
    total = queued_at_start + len(arrivals)
    changed = True
    simulation_began = time.perf_counter()
    try:  # stopped early (SIGINT: `timeout -s INT`), it reports what it has
        while sum(len(values) for values in waits.values()) < total:
            ended = []
            while endings and endings[0][0] <= now:
                ended.append(heapq.heappop(endings)[1])
            if ended:
                Run.objects.filter(pk__in=ended).update(status=RunStatus.COMPLETED, completed_at=timezone.now())
                GpuClaim.objects.filter(holder_kind=HolderKind.RUN, holder_id__in=[str(pk) for pk in ended]).delete()
                changed = True
            fresh = []
            while arrivals and arrivals[0][0] <= now:
                _, serial = arrivals.pop(0)
                run = new_run(HIGH, now, 100_000 + serial)
                fresh.append(run)
                arrived_at[run.pk], priority_of[run.pk] = now, HIGH
            if fresh:
                Run.objects.enqueue(fresh)
                changed = True
            if changed:
                waiting = total - sum(len(values) for values in waits.values()) - len(arrivals)
                spent.reset()
                began, in_starts[0] = time.perf_counter(), 0.0
                started_now = scheduling.dispatch_queued_runs()
                passes.append((waiting, (time.perf_counter() - began) * 1000, in_starts[0] * 1000))
                if passes[-1][1] > options.slow_ms:
                    print(f"pass {len(passes)} at t = {now:.0f} s, {waiting} waiting: {spent.summary(passes[-1][1])}")
                # A pass that started as many runs as it may leaves the rest to the next tick's pass.
                changed = len(started_now) >= settings.DISPATCH_STARTS_PER_PASS
                if options.max_passes and len(passes) >= options.max_passes:
                    break
            if changed:
                now += 1.0
                continue
            upcoming = [
                moment
                for moment in (endings[0][0] if endings else None, arrivals[0][0] if arrivals else None)
                if moment is not None
            ]
            if not upcoming:
                break
            now = max(now + 1.0, float(math.ceil(min(upcoming))))
    except KeyboardInterrupt:
        print("stopped early")

    admitted = sum(len(values) for values in waits.values())
    print(f"wall time of the simulation: {time.perf_counter() - simulation_began:.0f} s")
    at_full = [ms for waiting, ms, _ in passes if waiting >= 13_000 * options.scale]
    every = [ms for _, ms, _ in passes]
    at_full_dispatching = [ms - starting for waiting, ms, starting in passes if waiting >= 13_000 * options.scale]
    print(
        f"database: {connection.vendor}; GPUs: {options.gpus}; projects: {options.projects}; "
        f"window {run_models.WINDOW} runs a lane, at most {settings.DISPATCH_STARTS_PER_PASS} starts a pass"
    )
    print(f"admitted {admitted} of {total} runs in {now:.0f} s simulated, {len(passes)} dispatch passes")
    for priority, values in sorted(waits.items()):
        if values:
            print(
                f"priority {priority}: {len(values)} runs, wait median {statistics.median(values):.1f} s, "
                f"p95 {percentile(values, 0.95):.1f} s (simulated)"
            )
    if at_full:
        print(
            f"passes with ≥ {int(13_000 * options.scale)} waiting: {len(at_full)}, "
            f"median {statistics.median(at_full):.1f} ms, p95 {percentile(at_full, 0.95):.1f} ms, "
            f"max {max(at_full):.1f} ms (the first: {passes[0][1]:.1f} ms)"
        )
        print(
            "the same passes less the stand-in executor's starts: "
            f"median {statistics.median(at_full_dispatching):.1f} ms, "
            f"p95 {percentile(at_full_dispatching, 0.95):.1f} ms, max {max(at_full_dispatching):.1f} ms "
            f"(the first: {passes[0][1] - passes[0][2]:.1f} ms, {passes[0][2]:.1f} ms in starts)"
        )
    print(
        f"all passes: median {statistics.median(every):.1f} ms, p95 {percentile(every, 0.95):.1f} ms, "
        f"max {max(every):.1f} ms"
    )


if __name__ == "__main__":
    print(f"at the start, {machine()}", flush=True)
    main()
    print(f"at the end,   {machine()}")
