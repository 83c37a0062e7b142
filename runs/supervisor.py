"""The loop that watches running trainers and tells the database what they do.

Each tick (`SUPERVISOR_INTERVAL_SECONDS`, 0.5 s) it starts queued runs that can
start, carries out stop orders of cancelled runs that nobody else can (a cancel
that reached another host's web server, or whose web process died mid-way; see
`runs.services.cancel_run`), then, for every running run it may watch, reads the trainer's new output
(`runs.ingest.ingest_run`), asks the executor whether the process still runs, and
records the end (`runs.services.finish_run`) once it has exited.

Two ways to run it, both safe at once and on several hosts:
- `manage.py supervise`: on its own, until SIGTERM/SIGINT (like healthchecks'
  `sendalerts`); the current tick finishes, leases are handed back, then it exits.
- under django-q2 alone (`manage.py qcluster`): the data migration
  `runs.0002_supervisor_schedule` schedules `runs.tasks.supervise_runs` every
  minute. That task runs a bounded loop (`SUPERVISOR_TASK_SECONDS`: qcluster waits for
  it on SIGTERM, so it is short) unless another loop already runs on this host (a cache key
  refreshed every tick), and queues its own successor when its time is up, so
  supervision continues without gaps; the schedule restarts it within a minute if
  a worker dies, and the dispatch task queues one when it starts a run while none
  runs (right after a cluster start).

No two supervisors process one run: a supervisor works only on runs whose lease
it holds (`Run.lease_owner`/`lease_expires_at`), renews its leases every tick,
and takes over a lease when it expires or when its holder on this host is dead
(runs.leases). A local run is watched only by the supervisor of the host that
launched it (`Run.host`). After a restart nothing is lost: the trainer kept
running in its own session, the executor recognises it by pid and start time,
ingestion continues from the stored byte offset, and a trainer that ended while
nobody watched is judged by its recorded exit code.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from runs import leases, scheduling, services
from runs.executors import get_executor
from runs.executors.base import ProcessState
from runs.ingest import ingest_run
from runs.models import Run, RunStatus

logger = logging.getLogger(__name__)

# Running runs, and queued ones already in their executor's own queue (pending Slurm jobs).
WATCHED = frozenset({RunStatus.RUNNING, RunStatus.QUEUED})
CANCELLED = frozenset({RunStatus.CANCELLED})


class Supervisor:
    def __init__(self, *, on_tick: Callable[[], None] | None = None) -> None:
        self.hostname = settings.HOSTNAME
        # Unique per loop, even for two loops in one process.
        self.owner = leases.owner_name(f"supervisor-{uuid.uuid4().hex[:8]}")
        self.interval = settings.SUPERVISOR_INTERVAL_SECONDS
        self.lease_seconds = settings.SUPERVISOR_LEASE_SECONDS
        self.on_tick = on_tick
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Ask the loop to end after the current tick (safe from a signal handler)."""
        self._stopping.set()

    def run(self, *, duration: float | None = None) -> None:
        """Tick every `interval` seconds until stopped or `duration` seconds have passed."""
        deadline = None if duration is None else time.monotonic() + duration
        logger.info("Supervisor %s started.", self.owner)
        try:
            while not self._stopping.is_set() and (deadline is None or time.monotonic() < deadline):
                began = time.monotonic()
                if not connection.in_atomic_block:  # (tests run inside one)
                    close_old_connections()  # a long loop must survive a dropped connection
                try:
                    self.tick()
                except Exception:  # a database hiccup must not end supervision
                    logger.exception("Supervisor tick failed; trying again.")
                self._stopping.wait(max(self.interval - (time.monotonic() - began), 0.0))
        finally:
            Run.objects.filter(lease_owner=self.owner).update(lease_owner="", lease_expires_at=None)
            logger.info("Supervisor %s stopped; its leases are released.", self.owner)

    def tick(self) -> None:
        if self.on_tick is not None:
            self.on_tick()
        scheduling.dispatch_queued_runs()
        self.carry_out_stop_orders()
        for run in self.hold_runs():
            if self._stopping.is_set():
                break
            try:
                self.supervise(run)
            except Exception:
                logger.exception("Supervising run %s failed; trying again next tick.", run.pk)

    def hold_runs(self) -> list[Run]:
        """Renew this supervisor's leases, take free ones it may watch; the runs it holds."""
        expires = timezone.now() + timedelta(seconds=self.lease_seconds)
        Run.objects.filter(lease_owner=self.owner, status__in=WATCHED).update(lease_expires_at=expires)
        # Runs that stopped running (a cancel) are left to whoever carries out the stop.
        Run.objects.filter(lease_owner=self.owner).exclude(status__in=WATCHED).update(
            lease_owner="", lease_expires_at=None
        )
        held = []
        watched = Run.objects.filter(status=RunStatus.RUNNING) | Run.objects.submitted()
        for run in watched.select_related("resume_source_artifact"):
            if not get_executor(run.executor).watched_here(run, self.hostname):
                continue
            if run.lease_owner == self.owner:
                held.append(run)
                continue
            dead = run.lease_owner if run.lease_owner and leases.holder_is_dead(run.lease_owner) else ""
            if run.take_lease(self.owner, seconds=self.lease_seconds, statuses=WATCHED, steal_from=dead):
                logger.info("Supervisor %s now watches run %s.", self.owner, run.pk)
                held.append(run)
        return held

    def carry_out_stop_orders(self) -> None:
        """Stop cancelled runs whose stop order nobody carries out: given on another host, or its carrier died."""
        for run in Run.objects.filter(status=RunStatus.CANCELLED, executor_state__has_key="stop"):
            carrier = run.executor_state["stop"].get("carrier", "")
            if carrier and not leases.holder_is_dead(carrier):
                continue
            if not get_executor(run.executor).watched_here(run, self.hostname):
                continue
            dead = run.lease_owner if run.lease_owner and leases.holder_is_dead(run.lease_owner) else ""
            if run.take_lease(self.owner, seconds=self.lease_seconds, statuses=CANCELLED, steal_from=dead):
                try:
                    services.stop_run_processes(run=run)
                finally:
                    run.release_lease(self.owner)

    def supervise(self, run: Run) -> None:
        if run.status == RunStatus.QUEUED and not self.started_from_executor_queue(run):
            return
        ingest_run(run)  # also reads the run's GPU utilisation
        observation = get_executor(run.executor).observe(run)
        if observation.state in (ProcessState.EXITED, ProcessState.LOST):
            services.finish_run(run=run, exit_code=observation.exit_code, reason=observation.reason)
            run.release_lease(self.owner)

    def started_from_executor_queue(self, run: Run) -> bool:
        """A run pending in its executor's queue: True once it has started (now `running`)."""
        observation = get_executor(run.executor).observe(run)
        if observation.state is ProcessState.PENDING:
            if observation.reason and observation.reason != run.queue_reason:
                Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(queue_reason=observation.reason)
            return False
        # Running, or already over (a short job between two ticks): started either way.
        return services.mark_running(run=run, executor_state=run.executor_state, gpu_indices=run.gpu_indices)
