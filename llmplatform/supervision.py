"""Supervision: the loops that watch what the platform started, one design for all of them.

A *duty* is what one loop watches. Each app registers its own in its AppConfig:
`runs.supervisor.RunSupervisor` starts queued runs, reads running trainers' output,
notices their end and carries out stop orders; `deployments.supervisor.DeploymentSupervisor`
probes this host's model servers.

How a loop runs:
- One live loop per duty and host. It holds the lease `<duty>@<host>`
  (`llmplatform.models.SupervisorLease`; owners and how a dead one is recognised in
  `llmplatform.leases`), ticks every `duty.interval` seconds and renews the lease as it goes.
- Under django-q2 (`manage.py qcluster`, the production shape) a loop is the task
  `supervise(duty)`. It works for a slice of `SUPERVISOR_TASK_SECONDS`, or until its duty
  has nothing left to watch, then lets go of the lease and wakes the duty, which queues
  its successor while there is work. Slices are short because qcluster waits for running
  tasks when it is told to stop.
- `wake(duty)` queues a loop unless a live loop holds the lease or there is nothing to
  watch, in this host's own queue (`llmplatform.queues`): where every host's workers
  share a broker, a loop queued by host A must run on A, since it supervises the host
  whose worker runs it. It is called where work appears (a run is queued, a model server
  is started), by a loop handing over, and by every django-q2 worker process as it starts (django-q2's
  `post_spawn`): at a cluster start, and when the cluster replaces a worker that died.
  So after `kill -9` of the worker running a loop, the cluster starts a new worker within
  half a second, that worker finds the lease's holder gone from /proc and queues the loop,
  and the first free worker takes the lease over at once.
- Work that appears while a loop is ending is never missed: a loop lets go of its lease
  before it looks for work a last time, and a wake that finds the lease still held
  leaves the work to that last look.
- `manage.py supervise` runs the same loops in the foreground, without qcluster, until
  SIGTERM or SIGINT; the current tick finishes and the leases are handed back. Where a
  live loop already holds a lease it stands by and takes over when that loop ends or dies.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Any, ClassVar, Protocol

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.dispatch import receiver
from django.utils import timezone
from django_q.signals import post_spawn
from django_q.tasks import async_task

from llmplatform import leases, queues
from llmplatform.models import SupervisorLease

logger = logging.getLogger(__name__)


def always() -> bool:
    return True


@cache
def keep_start_up_out_of_collections() -> None:
    """Move what the process holds once started (Django, the apps' modules, their caches) out of the garbage
    collector's reach, once per process: it lives as long as the process, and each full collection would
    otherwise walk all of it (100–200 ms on a 2-core host) in the middle of whatever tick it interrupts."""
    gc.collect()
    gc.freeze()


class Duty(Protocol):
    """What one supervision loop watches."""

    name: ClassVar[str]
    interval: float

    def __init__(self, *, owner: str) -> None: ...

    @classmethod
    def has_work(cls) -> bool:
        """Whether anything needs watching now (a loop without work ends its task)."""

    def tick(self, keep_going: Callable[[], bool] = always) -> None:
        """Watch everything once; a long tick asks `keep_going` between items and stops when it says False."""

    def let_go(self) -> None:
        """Hand back whatever the duty holds besides the loop's lease (the runs it watches)."""


DUTIES: dict[str, type[Duty]] = {}


def register(duty: type[Duty]) -> None:
    DUTIES[duty.name] = duty


def _drop_broken_connections() -> None:
    """A long loop outlives a dropped database connection (a caller's transaction, such as a test's, is kept)."""
    if not connection.in_atomic_block:
        close_old_connections()


def lease_name(duty_name: str) -> str:
    return f"{duty_name}@{settings.HOSTNAME}"


class Loop:
    """One duty's loop on this host, holding its lease while it ticks."""

    def __init__(self, duty_name: str) -> None:
        self.owner = leases.owner_name(f"{duty_name}-{uuid.uuid4().hex[:8]}")
        self.duty = DUTIES[duty_name](owner=self.owner)
        self.lease = SupervisorLease.named(lease_name(duty_name))
        self.lease_seconds = float(settings.SUPERVISOR_LEASE_SECONDS)
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Ask the loop to end after the current tick (safe from a signal handler)."""
        self._stopping.set()

    def pause(self) -> None:
        """Wait one interval (or until stopped)."""
        self._stopping.wait(self.duty.interval)

    def _stand_by(self, deadline: float | None) -> bool:
        """Wait until the lease can be taken (True), or until stopped or out of time (False)."""
        while not self._stopping.is_set() and (deadline is None or time.monotonic() < deadline):
            self.pause()
            _drop_broken_connections()
            try:
                self.lease.refresh_from_db()
                if self.lease.take_lease(self.owner, seconds=self.lease_seconds):
                    return True
            except DatabaseError:
                logger.exception("%s could not look at %s; trying again.", self.owner, self.lease.name)
        return False

    def keep_going(self) -> bool:
        """Whether to go on: not told to stop and still holding the lease (renewed once a third of it has passed)."""
        if self._stopping.is_set():
            return False
        expires = self.lease.lease_expires_at
        fresh = timedelta(seconds=self.lease_seconds * 2 / 3)
        if self.lease.lease_owner == self.owner and expires is not None and expires - timezone.now() > fresh:
            return True
        if self.lease.take_lease(self.owner, seconds=self.lease_seconds):
            return True
        logger.warning("%s lost %s to another loop; stopping.", self.owner, self.lease.name)
        self._stopping.set()
        return False

    def run(
        self, *, seconds: float | None = None, until_idle: bool = False, once: bool = False, standby: bool = False
    ) -> bool:
        """Tick until stopped, `seconds` have passed, the duty has no work (`until_idle`) or after one tick
        (`once`). When another live loop holds the lease: False at once, or with `standby`, wait for it
        to let go or die (a hot spare); False if stopped or out of time first."""
        logger.info("%s started.", self.owner)
        keep_start_up_out_of_collections()
        deadline = None if seconds is None else time.monotonic() + seconds
        if not self.lease.take_lease(self.owner, seconds=self.lease_seconds) and not (
            standby and self._stand_by(deadline)
        ):
            return False
        logger.info("%s holds %s.", self.owner, self.lease.name)
        try:
            while not self._stopping.is_set() and (deadline is None or time.monotonic() < deadline):
                began = time.monotonic()
                _drop_broken_connections()
                try:
                    if not self.keep_going():
                        break
                    if until_idle and not self.duty.has_work():
                        break
                    self.duty.tick(self.keep_going)
                except Exception:  # a database hiccup or one bad object must not end supervision
                    logger.exception("A tick of %s failed; trying again.", self.lease.name)
                if once:
                    break
                self._stopping.wait(max(self.duty.interval - (time.monotonic() - began), 0.0))
        finally:
            with contextlib.suppress(DatabaseError):
                self.duty.let_go()
            with contextlib.suppress(DatabaseError):
                self.lease.release_lease(self.owner)  # else it expires by itself
            logger.info("%s let go of %s.", self.owner, self.lease.name)
        return True


def wake(duty_name: str) -> bool:
    """Queue a loop of the duty unless a live one holds its lease or there is nothing to watch; whether one was."""
    if not DUTIES[duty_name].has_work():
        return False
    lease = SupervisorLease.objects.filter(name=lease_name(duty_name)).first()
    if lease is not None and lease.held_by_another_live_process():
        return False
    # Always through the broker, even where tasks otherwise run inline in their caller:
    # a loop runs for a whole slice. In this host's queue: a loop is its executing host's.
    async_task(
        f"{__name__}.supervise",
        duty_name,
        task_name=f"supervise {duty_name}",
        group="supervision",
        cluster=queues.host_queue(),
        sync=False,
    )
    return True


def supervise(duty_name: str) -> str:
    """The django-q2 task: one slice of the duty's loop on this host, then the handover."""
    loop = Loop(duty_name)
    while True:
        try:
            if not loop.run(seconds=settings.SUPERVISOR_TASK_SECONDS, until_idle=True):
                return f"Another live loop holds {loop.lease.name}."
            successor = wake(duty_name)
        except Exception:  # the database or the broker is away: keep the duty rather than leave it unwatched
            logger.exception("%s could not hand over; it supervises another slice.", loop.owner)
            loop.pause()
            continue
        return f"{loop.owner} handed over: {'successor queued' if successor else 'nothing left to watch'}."


@receiver(post_spawn)
def wake_every_duty_in_a_new_worker(sender: Any, proc_name: str, **kwargs: Any) -> None:
    """A django-q2 worker has started: a cluster start, or a replacement for a worker that died."""
    if multiprocessing.parent_process() is None:
        return  # a task run inline in its caller (django-q2's sync mode) started no worker
    for name in DUTIES:
        try:
            wake(name)
        except Exception:  # a worker must start even while the database is away
            logger.exception("Could not wake the %s loop from worker %s.", name, proc_name)
