"""The runs' supervision duty: start queued runs, watch running trainers, record their end.

Each tick (`SUPERVISOR_INTERVAL_SECONDS`, 0.5 s) it starts queued runs that can
start, carries out stop orders of cancelled runs that nobody else can (a cancel
that reached another host's web server, or whose web process died mid-way; see
`runs.services.cancel_run`), then, for every running run it may watch, reads the
trainer's new output (`runs.ingest.ingest_run`), asks the executor whether the
process still runs, and records the end (`runs.services.finish_run`) once it has exited.
How and where the loop runs, and how a dead loop is replaced, is
`llmplatform.supervision`'s (one design for every duty).

No two loops process one run, even across hosts: a loop works only on runs whose
lease it holds (`llmplatform.leases.Leased`), renews them every tick, and takes one
over when it expires or when its holder on this host is dead. A local run is watched
only by a loop of the host that launched it (`Run.host`). After a restart nothing is
lost: the trainer kept running in its own session, the executor recognises it by pid
and start time, ingestion continues from the stored byte offset, and a trainer that
ended while nobody watched is judged by its recorded exit code.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import ClassVar

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from llmplatform import leases
from llmplatform.supervision import always
from runs import healing, scheduling, services
from runs.executors import EXECUTOR_CLASSES, get_executor
from runs.executors.base import ProcessState
from runs.ingest import ingest_run
from runs.models import Run, RunStatus

logger = logging.getLogger(__name__)

# Running runs, and queued ones already in their executor's own queue (pending Slurm jobs).
WATCHED = frozenset({RunStatus.RUNNING, RunStatus.QUEUED})
# Cancelled runs whose processes are still to be stopped.
STOP_ORDERED = Q(status=RunStatus.CANCELLED, executor_state__has_key="stop")


class RunSupervisor:
    name: ClassVar[str] = "runs"

    def __init__(self, *, owner: str = "") -> None:
        self.owner = owner or leases.owner_name(f"{self.name}-{uuid.uuid4().hex[:8]}")
        self.stalls = healing.StallWatch()
        self.hostname = settings.HOSTNAME
        self.interval = float(settings.SUPERVISOR_INTERVAL_SECONDS)
        self.lease_seconds = float(settings.SUPERVISOR_LEASE_SECONDS)
        # Each executor's module, imported now rather than by the first tick's dispatch (Docker's client: 30 ms),
        # and so before the loop keeps what its process holds out of full collections.
        for kind in EXECUTOR_CLASSES:
            get_executor(kind)

    @classmethod
    def has_work(cls) -> bool:
        return Run.objects.filter(Q(status__in=WATCHED) | STOP_ORDERED | healing.RETRY_DUE).exists()

    def tick(self, keep_going: Callable[[], bool] = always) -> None:
        scheduling.dispatch_queued_runs()
        self.carry_out_stop_orders()
        healing.retry_due_runs()
        for run in self.hold_runs():
            if not keep_going():
                break
            try:
                self.supervise(run)
            except Exception:
                logger.exception("Supervising run %s failed; trying again next tick.", run.pk)

    def let_go(self) -> None:
        Run.objects.filter(lease_owner=self.owner).update(lease_owner="", lease_expires_at=None)

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
        for run in watched.select_related("project", "resume_source_artifact"):
            if not get_executor(run.executor).watched_here(run, self.hostname):
                continue
            if run.lease_owner == self.owner:
                held.append(run)
                continue
            if run.take_lease(self.owner, seconds=self.lease_seconds, where=Q(status__in=WATCHED)):
                logger.info("Supervisor %s now watches run %s.", self.owner, run.pk)
                held.append(run)
        return held

    def carry_out_stop_orders(self) -> None:
        """Stop cancelled runs whose stop order nobody carries out: given on another host, or its carrier died."""
        for run in Run.objects.filter(STOP_ORDERED):
            carrier = run.executor_state["stop"].get("carrier", "")
            if carrier and not leases.holder_is_dead(carrier):
                continue
            if not get_executor(run.executor).watched_here(run, self.hostname):
                continue
            if run.take_lease(self.owner, seconds=self.lease_seconds, where=Q(status=RunStatus.CANCELLED)):
                try:
                    services.stop_run_processes(run=run)
                finally:
                    run.release_lease(self.owner)

    def supervise(self, run: Run) -> None:
        if run.status == RunStatus.QUEUED and not self.started_from_executor_queue(run):
            return
        if run.cancel_requested_at is not None and run.status == RunStatus.RUNNING:
            # Asked for without waiting: stopped here, within this tick (up to CANCEL_GRACE_SECONDS).
            ingest_run(run)
            services.carry_out_cancel_request(run=run, carrier=self.owner)
            self.stalls.forget(run)
            run.release_lease(self.owner)
            return
        if run.preemption_pending:
            healing.carry_out_preemption(run)
        else:
            ingest_run(run)  # also reads the run's GPU utilisation
            observation = get_executor(run.executor).observe(run)
            if observation.state in (ProcessState.EXITED, ProcessState.LOST):
                services.finish_run(run=run, exit_code=observation.exit_code, reason=observation.reason)
            else:
                self.stalls.look(run)  # may cancel it (the project's on_stall)
        if run.status != RunStatus.RUNNING:
            self.stalls.forget(run)
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
