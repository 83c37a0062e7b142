"""Runs that heal: failed runs retried from their last good checkpoint, stalled runs found and
handled, lower-priority runs preempted for higher ones.

The contract's run status values stay as they are, because scripts switch on them:

- **A retry** is a new run linked to the one that failed (`retry_of`, `attempt`), which stays
  `failed` and says in `retry_reason` why it was, or was not, retried. A run that fails while
  running (a non-zero exit, a lost node or container, an OOM; not a cancel, not a command that
  could not start) is marked `retry_due` when its project has `max_retries`; the runs'
  supervision duty then resumes it from its latest complete checkpoint (else the one it started
  from, else from the start) with the same config, up to `max_retries` times, and stops early
  when two attempts in a row fail at the same step. Deciding and creating the retry is one
  transaction, and a unique constraint allows one retry per run: two supervisors, or one
  killed mid-way and its successor, never make two.
- **A stall** is a flag on a `running` run (`stalled_since`, `stall_reason`): no new step for
  its project's `stall_after_seconds` (blank: ten times the median of its recent step times,
  at least STALL_AFTER_FLOOR_SECONDS) while its GPUs idle (below 5 % where NVML reads them) or,
  without a GPU reading, its processes' CPU time stands still (under 2 % of a core over
  STALL_CPU_WINDOW_SECONDS, as its executor reads it: its process group here, in its container,
  or its Slurm job's batch step). The first stall of a run leaves a stack dump of its Python
  processes (py-spy, as its executor takes it: here, or on its Slurm job's node) among its
  artifacts, or the reason there is none; then the project's
  `on_stall` leaves it, cancels it, or cancels it and resumes it as a linked run (retried as
  above, stopping when it stalls at the same step twice). A new step clears the flag.
- **A preemption** sends a lower-priority run back to `queued`: when a queued run of a project
  that `may_preempt` (staff set it) finds too few free GPUs, the dispatcher marks running runs of
  lower priority holding GPUs it may use (`preempted_by`, lowest priority and newest first, only
  as many as it needs). The supervisor holding such a run then stops it as a cancel does
  (SIGTERM, CANCEL_GRACE_SECONDS for the trainer to save, SIGKILL), points its config at its
  latest complete checkpoint and requeues it, to resume when GPUs are free again. A supervisor
  killed mid-way leaves the mark, and whoever holds the run next finishes the job.
"""

from __future__ import annotations

import logging
import re
import shutil
import statistics
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditAction
from audit.services import record_event
from gpus.models import HolderKind
from gpus.services import free_gpus, release_gpus
from llmplatform.errors import DomainError
from llmplatform.sentences import gettext_noop
from projects.models import OnStall
from runs import launch, services
from runs.executors import get_executor
from runs.executors.base import Executor, LaunchError, ProcessState
from runs.ingest import ingest_run, latest_complete_checkpoint
from runs.models import PREEMPTION_PENDING, Artifact, ArtifactType, LogLevel, Run, RunStatus

if TYPE_CHECKING:
    from runs.scheduling import Queued

logger = logging.getLogger(__name__)

REASON_LENGTH = 255
# Failed runs, and runs cancelled for a stall whose processes are gone, that are owed a decision.
RETRY_DUE = Q(retry_due=True) & (
    Q(status=RunStatus.FAILED) | (Q(status=RunStatus.CANCELLED) & ~Q(executor_state__has_key="stop"))
)
STEP_TIMES_KEPT = 20
STALL_FACTOR = 10  # stalled after this many median step times without a step
IDLE_GPU = 0.05  # GPU utilisation below this is idle
IDLE_CPU = 0.02  # CPU seconds per second (of one core) below this is idle


def _short(text: str) -> str:
    return text[:REASON_LENGTH]


def _note(run: Run, level: str, message: str) -> None:
    """A platform line in the run's log, read into its stored log at once."""
    services.append_platform_line(run, level, message)
    ingest_run(run, final=not run.is_active)


# --- retries ----------------------------------------------------------------


def retry_due_runs() -> list[Run]:
    """Decide every retry that is owed: each failed run is retried at most once."""
    retries = []
    for run in Run.objects.filter(RETRY_DUE).select_related("project", "retry_of", "resume_source_artifact"):
        try:
            retry = retry_run(run)
        except Exception:  # one bad run must not keep the others from their retries
            logger.exception("Could not decide the retry of run %s; trying again next tick.", run.pk)
            continue
        if retry is not None:
            retries.append(retry)
    return retries


def _why_not(run: Run) -> str:
    """Why the run must not be retried, or "" when it may."""
    previous = run.retry_of
    step = run.current_step
    if previous is not None and previous.current_step == step:
        stalled = run.status == RunStatus.CANCELLED
        if step is None:
            if stalled:
                return gettext_noop("not retried: it stalled before its first step twice in a row")
            return gettext_noop("not retried: it failed before its first step twice in a row")
        if stalled:
            return gettext_noop("not retried: it stalled at step {step} twice in a row").format(step=step)
        return gettext_noop("not retried: it failed at step {step} twice in a row").format(step=step)
    limit = run.project.max_retries
    if run.status == RunStatus.FAILED and run.attempt > limit:
        return gettext_noop("not retried: its project's max_retries ({limit}) is used up").format(limit=limit)
    return ""


def _resume_point(run: Run) -> Artifact | None:
    """Where a retry of the run starts: its latest complete checkpoint, else the one it started from."""
    checkpoint = latest_complete_checkpoint(run)
    source = run.resume_source_artifact
    if checkpoint is None and source is not None and Path(source.path).is_dir():
        return source
    return checkpoint


def _chain_name(run: Run, attempt: int) -> str:
    base = re.sub(r"-attempt-\d+$", "", run.name)
    return f"{base}-attempt-{attempt}"[:200]


def retry_run(run: Run) -> Run | None:
    """Retry one run owed a retry (see the module's docstring); the new run, or None when it
    is not retried (its `retry_reason` says why) or another process retried it first."""
    if refusal := _why_not(run):
        if Run.objects.filter(pk=run.pk, retry_due=True).update(retry_due=False, retry_reason=_short(refusal)):
            _note(
                run, LogLevel.WARNING, f"The platform did not retry this run: {refusal.removeprefix('not retried: ')}."
            )
            record_event(actor=None, action=AuditAction.ACTION, target=run, verb="retry", changes={"refused": refusal})
        return None
    checkpoint = _resume_point(run)
    attempt = run.attempt + 1
    retry: Run | None = None
    try:
        with transaction.atomic():
            # The claim and the new run commit together: a process killed in between leaves neither.
            if not Run.objects.filter(pk=run.pk, retry_due=True).update(retry_due=False):
                return None
            retry = services.create_run(
                project=run.project,
                actor=None,
                name=_chain_name(run, attempt),
                model=run.model,
                dataset=run.dataset,
                training_yaml_name=run.training_yaml_name,
                hyperparameters=run.hyperparameters,
                resources=run.resources,
                priority=run.priority,
                resume_from=checkpoint,
            )
            start = f"from {checkpoint.name}" if checkpoint else "from the start (no complete checkpoint)"
            if checkpoint is not None:
                retried = gettext_noop("retried as run {run} (attempt {attempt}) from {checkpoint}")
            else:
                retried = gettext_noop(
                    "retried as run {run} (attempt {attempt}) from the start (no complete checkpoint)"
                )
            reason = retried.format(run=retry.name, attempt=attempt, checkpoint=checkpoint.name if checkpoint else "")
            Run.objects.filter(pk=retry.pk).update(retry_of=run, attempt=attempt, created_by=run.created_by)
            Run.objects.filter(pk=run.pk).update(retry_reason=_short(reason))
    except IntegrityError:  # another process retried it a moment ago
        if retry is not None:
            shutil.rmtree(retry.run_dir, ignore_errors=True)
        return None
    except DomainError as problem:  # the project was archived, a file it names is gone...
        reason = _short(gettext_noop("not retried: {problem}").format(problem=problem.detail))
        if Run.objects.filter(pk=run.pk, retry_due=True).update(retry_due=False, retry_reason=reason):
            _note(run, LogLevel.WARNING, f"The platform could not retry this run: {problem.detail}")
        return None
    retry.refresh_from_db()
    _note(run, LogLevel.WARNING, f"The platform {reason}.")
    services.append_platform_line(retry, LogLevel.INFO, f"Attempt {attempt}: it retries run {run.name} {start}.")
    record_event(actor=None, action=AuditAction.ACTION, target=retry, verb="retry", changes={"of": str(run.pk)})
    return retry


# --- stalls -----------------------------------------------------------------


def stall_after(run: Run) -> float:
    """Seconds without a new step after which the run counts as stalled."""
    if run.project.stall_after_seconds:
        return float(run.project.stall_after_seconds)
    times = run.watch_state.get("step_seconds") or []
    typical = STALL_FACTOR * statistics.median(times) if times else 0.0
    return max(float(settings.STALL_AFTER_FLOOR_SECONDS), typical)


@dataclass
class _CpuSamples:
    """One run's recent (monotonic time, CPU seconds) readings."""

    readings: deque[tuple[float, float]] = field(default_factory=deque)

    def add(self, at: float, cpu: float, *, keep: float) -> None:
        if self.readings and cpu < self.readings[-1][1]:
            # A process ended and took its CPU time along (the trainer, on its way out): what was
            # read before no longer compares, and a rate over it would look idle.
            self.readings.clear()
        self.readings.append((at, cpu))
        while len(self.readings) > 2 and self.readings[1][0] <= at - keep:
            self.readings.popleft()

    def rate(self, *, over: float) -> float | None:
        """CPU seconds per second over the last `over` seconds; None until that long has been seen."""
        (first, used_then), (last, used_now) = self.readings[0], self.readings[-1]
        if last - first < over:
            return None
        return (used_now - used_then) / (last - first)


class StallWatch:
    """What one supervisor has seen of the runs it watches, for telling a stalled run from a slow one."""

    def __init__(self) -> None:
        self._cpu: dict[uuid.UUID, _CpuSamples] = {}

    def forget(self, run: Run) -> None:
        self._cpu.pop(run.pk, None)

    def look(self, run: Run) -> None:
        """Call for a running run this supervisor holds, after reading its files."""
        now = timezone.now()
        if _note_step(run, now):
            self.forget(run)  # CPU readings from before a step say nothing of the quiet since
            return
        after = stall_after(run)
        quiet = now.timestamp() - run.watch_state["at"]
        executor = get_executor(run.executor)
        # CPU time is read over a window long enough for the reading's resolution to tell IDLE_CPU
        # (sstat's whole seconds: 50 s), and only the window before the run would count as stalled:
        # a reading may cost its engine a round trip (a command in a container, an sstat).
        window = min(max(float(settings.STALL_CPU_WINDOW_SECONDS), executor.cpu_resolution / IDLE_CPU), after)
        if run.stalled_since is not None or quiet < after - window:
            return
        idle = self._idleness(run, executor, window)
        if idle and quiet >= after:
            _flag_stalled(run, now=now, quiet=quiet, idle=idle)

    def _idleness(self, run: Run, executor: Executor, window: float) -> str:
        """How the run's hardware shows it idle ("GPUs at 0 %"), or "" when it is busy or not known yet."""
        if run.gpu_indices and run.gpu_utilization is not None:
            if run.gpu_utilization < IDLE_GPU:
                return gettext_noop("its GPUs at {utilization:.0%}").format(utilization=run.gpu_utilization)
            return ""
        try:
            used = executor.cpu_seconds(run)
        except LaunchError:  # its engine does not answer this time: no reading, judged at a later look
            return ""
        if used is None:
            return gettext_noop("no GPU or CPU reading of its processes here")
        samples = self._cpu.setdefault(run.pk, _CpuSamples())
        samples.add(time.monotonic(), used, keep=window)
        rate = samples.rate(over=window * 0.8)
        if rate is None or rate >= IDLE_CPU:
            return ""
        return gettext_noop("its processes using {rate:.1%} of a CPU over {window:g} s").format(
            rate=rate, window=window
        )


def _note_step(run: Run, now: datetime) -> bool:
    """Record a new step (and how long steps take); True when there was one since the last look."""
    state = run.watch_state
    step = run.current_step
    if state and state.get("step") == step:
        return False
    times: list[float] = list(state.get("step_seconds") or [])
    previous = state.get("step")
    if state and previous is not None and step is not None and step > previous:
        times = [*times, (now.timestamp() - state["at"]) / (step - previous)][-STEP_TIMES_KEPT:]
    # Before the first step is seen, the quiet time counts from the start.
    at = now if state or run.started_at is None else run.started_at
    fresh = {"step": step, "at": at.timestamp(), "step_seconds": times}
    cleared = {"stalled_since": None, "stall_reason": ""} if run.stalled_since else {}
    if Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(watch_state=fresh, **cleared) and cleared:
        services.append_platform_line(run, LogLevel.INFO, f"Steps resumed (step {step}); no longer stalled.")
    run.watch_state, run.stalled_since = fresh, None
    return bool(state)


def _flag_stalled(run: Run, *, now: datetime, quiet: float, idle: str) -> None:
    if run.current_step is None:
        stalled = gettext_noop("no new step for {quiet:.0f} s (after its first step) with {idle}")
    else:
        stalled = gettext_noop("no new step for {quiet:.0f} s (after step {step}) with {idle}")
    reason = _short(stalled.format(quiet=quiet, step=run.current_step, idle=idle))
    if not Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING, stalled_since__isnull=True).update(
        stalled_since=now, stall_reason=reason
    ):
        return
    run.stalled_since, run.stall_reason = now, reason
    dump = dump_stacks(run)
    action = run.project.on_stall
    services.append_platform_line(
        run, LogLevel.WARNING, f"Stalled: {reason}. Stack dump: {dump.name}. On stall: {OnStall(action).label}."
    )
    ingest_run(run)
    record_event(actor=None, action=AuditAction.ACTION, target=run, verb="stall", changes={"reason": reason})
    if action == OnStall.LEAVE:
        return
    if action == OnStall.RESUME:
        Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(retry_due=True)
    run.release_lease(run.lease_owner)  # the cancel carries out the stop itself
    services.cancel_run(run=run, actor=None)
    if action == OnStall.RESUME:
        retry_run(Run.objects.select_related("project", "retry_of", "resume_source_artifact").get(pk=run.pk))


def dump_stacks(run: Run) -> Artifact:
    """A stack dump of the run's Python processes as a `log` artifact of the run (or the reason there is none)."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    path = Path(run.run_dir) / f"stack-dump-{stamp}.txt"
    try:
        text = get_executor(run.executor).stack_dump(run)
    except LaunchError as problem:
        text = f"No stack dump: its processes could not be listed: {problem}\n"
    path.write_text(f"Stack dump of run {run} at {stamp} UTC\n\n{text}", encoding="utf-8")
    artifact, _ = Artifact.objects.update_or_create(
        run=run,
        path=str(path),
        defaults={"name": path.name, "type": ArtifactType.LOG, "size_bytes": path.stat().st_size},
    )
    return artifact


# --- preemption -------------------------------------------------------------


def preempt_for(run: Queued, *, needed: int, usable: frozenset[int]) -> str:
    """Mark lower-priority runs holding GPUs `run` may use for preemption until enough would be free;
    the queue reason for `run` meanwhile, or "" when preempting would not free enough."""
    if not run.project.may_preempt:
        return ""
    free = {gpu.index for gpu in free_gpus()}
    holders = list(
        Run.objects.filter(status=RunStatus.RUNNING, priority__lt=run.priority, host=settings.HOSTNAME)
        .exclude(gpu_indices=[])
        .only("pk", "priority", "started_at", "gpu_indices", "preempted_at", "executor")
        .order_by("priority", "-started_at")
    )
    coming = {index for holder in holders if holder.preemption_pending for index in holder.gpu_indices}
    available = (set(free) | coming) & usable
    if len(available) >= needed:
        return gettext_noop("waiting for GPUs that preempted runs are giving back") if coming & usable else ""
    victims = []
    for holder in holders:
        gain = set(holder.gpu_indices) & usable - available
        if holder.preemption_pending or not gain or get_executor(holder.executor).queues_itself:
            continue
        victims.append(holder)
        available |= gain
        if len(available) >= needed:
            break
    if len(available) < needed:
        return ""
    now = timezone.now()
    marked = 0
    for victim in victims:
        marked += (
            Run.objects.filter(pk=victim.pk, status=RunStatus.RUNNING)
            .exclude(PREEMPTION_PENDING)
            .update(preempted_by_id=run.pk, preempted_at=now)
        )
    for victim in victims:
        record_event(actor=None, action=AuditAction.ACTION, target=victim, verb="preempt", changes={"by": str(run.pk)})
    return gettext_noop(
        "waiting for {marked} run(s) of lower priority to save and give back their GPUs (preempted)"
    ).format(marked=marked)


def preempted_note(resume_from: str | None, waiting: str) -> str:
    """A preempted run's queue reason until it starts again: `resume_from` names its checkpoint, `waiting` says
    what it waits for."""
    if resume_from:
        note = gettext_noop("preempted by a higher-priority run; resumes from {checkpoint}; {waiting}")
    else:
        note = gettext_noop("preempted by a higher-priority run; starts again (no complete checkpoint); {waiting}")
    return note.format(checkpoint=resume_from, waiting=waiting)


def carry_out_preemption(run: Run) -> bool:
    """Stop a running run marked for preemption and requeue it to resume from its latest complete
    checkpoint; the caller holds its lease. True once it is queued again."""
    executor = get_executor(run.executor)
    observation = executor.observe(run)
    if observation.state is ProcessState.EXITED and observation.exit_code == 0:
        # It finished before it could be stopped: nothing to requeue, nobody preempted it.
        Run.objects.filter(pk=run.pk).update(preempted_by=None, preempted_at=None)
        services.finish_run(run=run, exit_code=0)
        return False
    by = run.preempted_by.priority if run.preempted_by else None
    grace = settings.CANCEL_GRACE_SECONDS
    services.append_platform_line(
        run,
        LogLevel.WARNING,
        f"Preempted by a run of priority {by}: asking the trainer to save (SIGTERM, {grace:g} s before SIGKILL).",
    )
    if not executor.cancel(run, grace=grace):
        services.append_platform_line(run, LogLevel.ERROR, "Preemption: some processes survived SIGKILL; trying again.")
        return False
    ingest_run(run, final=True)
    checkpoint = _resume_point(run)
    if checkpoint is not None:
        config = launch.read_config(run.config_path)
        launch.write_config({**config, "resume_from_checkpoint": checkpoint.path}, run.config_path)
    reason = _short(preempted_note(checkpoint.name if checkpoint else None, gettext_noop("waiting for GPUs")))
    # Its processes are gone: the GPUs go back first, so a supervisor killed here leaks none.
    release_gpus(holder_kind=HolderKind.RUN, holder_id=run.pk)
    requeued = run.transition(
        RunStatus.RUNNING,
        RunStatus.QUEUED,
        executor_state={},
        gpu_indices=[],
        exit_code=None,
        resume_source_artifact=checkpoint,
        queue_reason=reason,
        stalled_since=None,
        stall_reason="",
        watch_state={},
    )
    if requeued:
        services.append_platform_line(run, LogLevel.WARNING, f"Back in the queue: {reason}.")
        ingest_run(run)
        record_event(actor=None, action=AuditAction.ACTION, target=run, verb="requeue", changes={"reason": reason})
    return requeued
