"""The one small interface every executor implements, and the lifecycle they share.

The run services build a `LaunchSpec` (argv, working directory, environment, the
run's folder); an executor starts it somewhere, tells the supervisor what became
of it, and stops it. Everything else (effective config, log ingestion, metrics,
checkpoints, status transitions) is the same for every executor and lives in
the runs services and supervisor, not here.

Every engine runs the argv under the same `sh` wrapper (llmplatform.processes), which
records the program's exit code in the run's folder, so the end of a run is known
even when nobody was watching. What differs per engine is only how to start the
wrapped command, what the engine sees of it, how to signal it and whether any of
it is left: each executor module implements those four primitives (`start`,
`state`, `signal`, `alive`, plus `release` where the engine holds something for the
run), in that order. Three more serve the stall watch (runs.healing) where the engine can
answer them: `cpu_seconds`, the CPU time the command has used, `process_ids`, its
processes as this host sees them, and `stack_dump`, py-spy's dump of its Python processes
(by default over `process_ids` here; Slurm's on the job's node). The lifecycle is written once, below:

- `launch`: clears the exit code file and `start`s the command;
- `observe`: the engine's `state`, completed by the recorded exit code, with
  patience while the engine does not answer;
- `cancel`: SIGTERM, a grace period, SIGKILL, verified gone (through `alive`).
"""

from __future__ import annotations

import enum
import math
import signal
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpus.services import require_gpus
from llmplatform.processes import inherited_environment, read_exit_code, stop_gracefully
from llmplatform.queues import host_queue
from llmplatform.sentences import gettext_noop
from runs.executors.stacks import dump_here

if TYPE_CHECKING:
    from runs.models import Run


@dataclass(frozen=True)
class LaunchSpec:
    argv: list[str]
    cwd: Path  # the working directory as the host sees it
    env: dict[str, str]  # only the variables the platform sets (LLMP_*, CUDA_VISIBLE_DEVICES)
    run_dir: Path  # holds the log file, the exit code file and the effective config
    log_path: Path
    exit_code_path: Path
    gpu_indices: list[int] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # the project's executor options

    def inherited_env(self) -> dict[str, str]:
        """The platform's own environment less its secrets, with the run's variables over it."""
        return inherited_environment(self.env)


class LaunchError(Exception):
    """The command could not be started, or the engine refuses; `str()` says why and how to fix it."""


class EngineUnreachable(LaunchError):
    """The engine does not answer (a daemon or controller restarting); what runs in it may run on."""


class ProcessState(enum.Enum):
    PENDING = "pending"  # accepted but not started (a Slurm job waiting for resources)
    RUNNING = "running"
    EXITED = "exited"  # ended; see exit_code (None when it left no exit code)
    LOST = "lost"  # the executor no longer knows it (container gone, job purged)


@dataclass(frozen=True)
class Observation:
    state: ProcessState
    exit_code: int | None = None
    reason: str = ""  # for the run's log when it failed: "TIMEOUT", "container stopped"...


# Per executor and run, since when its engine has not answered this process.
_unreachable_since: dict[tuple[str, object], float] = {}


class Executor(ABC):
    kind: str
    # True where the engine schedules a launched command itself (Slurm): it allocates the
    # run's GPUs (the platform's ledger is not used), and the run stays `queued`, its job
    # submitted, until the supervisor observes it RUNNING.
    queues_itself: bool = False
    # True where only the run's own host can see its processes (local ones).
    bound_to_host: bool = False
    handle: str  # the `executor_state` key that identifies the started command
    poll_interval: float = 0.2  # seconds between two looks while waiting for it to go
    cpu_resolution: float = 0.01  # the smallest CPU time, in seconds, that `cpu_seconds` tells apart

    # Properties, so that an engine can read them from the settings.
    @property
    def kill_wait(self) -> float:
        """Seconds SIGKILL may take to end it."""
        return 5.0

    @property
    def unreachable_grace(self) -> float:
        """How long an engine may not answer before a run counts as lost."""
        return math.inf

    # --- what each engine implements -------------------------------------------

    @abstractmethod
    def start(self, run: Run, spec: LaunchSpec) -> dict[str, Any]:
        """Start the wrapped argv; return the bookkeeping to keep in `run.executor_state`.

        Raises LaunchError when it cannot start.
        """

    @abstractmethod
    def state(self, run: Run) -> Observation:
        """The engine's own view of the command, from `run.executor_state` alone (works after a
        restart). EXITED carries a reason only when the engine says it ended badly."""

    @abstractmethod
    def signal(self, run: Run, sig: signal.Signals) -> None:
        """Send `sig` to every process of the command."""

    @abstractmethod
    def alive(self, run: Run) -> bool:
        """Whether any process of the command is left (or it is still waiting to start)."""

    def release(self, run: Run) -> None:
        """Give back what the engine holds for an ended run (a per-run container); most hold nothing."""
        return None

    def cpu_seconds(self, run: Run) -> float | None:
        """User plus system CPU time the command's live processes have used so far (only this run's, even
        where it shares a container), or None where the engine cannot tell. Raises LaunchError when the
        engine does not answer now."""
        return None

    def process_ids(self, run: Run) -> list[int] | None:
        """The pids of the command's processes as this host sees them, for py-spy; None where they are not
        this host's to read (a Slurm node's, a container of a Docker daemon elsewhere)."""
        return None

    def stack_dump(self, run: Run) -> str:
        """A stack dump of the command's Python processes (py-spy), or a sentence saying why there is none:
        by default py-spy here over `process_ids`; an engine that reaches its processes elsewhere overrides it.
        Raises LaunchError when the engine does not answer now."""
        pids = self.process_ids(run)
        if pids is None:
            return (
                f"No stack dump: the processes of a {self.kind} run are not this host's to read (a container of a "
                "Docker daemon on another host), and py-spy here reads only this host's.\n"
            )
        return dump_here(pids)

    def require_gpus(self, *, count: int, gpu_type: str, options: dict[str, Any]) -> None:
        """Raise InvalidInput when no host of this engine could ever give one run `count` GPUs
        of `gpu_type` ("": any) at once: such a run would wait for ever. An engine that does not
        queue itself runs on this host, whose GPUs the platform's ledger hands out."""
        require_gpus(count=count, gpu_type=gpu_type)

    # --- the lifecycle, the same for every engine ------------------------------

    def launch(self, run: Run, spec: LaunchSpec) -> dict[str, Any]:
        spec.exit_code_path.unlink(missing_ok=True)
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        return self.start(run, spec)

    def observe(self, run: Run) -> Observation:
        """What the command is doing now; after its end, with the exit code the wrapper recorded."""
        try:
            if not run.executor_state.get(self.handle):
                seen = Observation(ProcessState.LOST, reason=gettext_noop("no process was recorded for this run"))
            else:
                seen = self.state(run)
        except EngineUnreachable as exc:
            return self._while_unreachable(run, exc)
        except LaunchError as exc:
            seen = Observation(ProcessState.LOST, reason=str(exc))
        _unreachable_since.pop((self.kind, run.pk), None)
        if seen.state in (ProcessState.PENDING, ProcessState.RUNNING):
            return seen
        self.release(run)
        recorded = read_exit_code(run.exit_code_path)
        if seen.state is ProcessState.LOST:
            return seen if recorded is None else Observation(ProcessState.EXITED, recorded)
        code = recorded if recorded is not None else seen.exit_code
        if seen.reason:  # the engine says it ended badly (TIMEOUT...): even an exit code 0 is no success
            return Observation(ProcessState.EXITED, code or None, seen.reason)
        if code is None:
            reason = gettext_noop(
                "killed before it could record an exit code: SIGKILL, or its host or container restarted"
            )
            return Observation(ProcessState.EXITED, reason=reason)
        return Observation(ProcessState.EXITED, code)

    def cancel(self, run: Run, *, grace: float) -> bool:
        """Stop the command: SIGTERM, `grace` seconds, SIGKILL; True once verified gone."""
        if not run.executor_state.get(self.handle):
            return True  # never started
        try:
            gone = stop_gracefully(
                lambda sig: self.signal(run, sig),
                lambda: not self.alive(run),
                grace=grace,
                kill_wait=self.kill_wait,
                poll_interval=self.poll_interval,
            )
        except LaunchError:
            return False  # nobody can tell whether it is gone
        if gone:
            self.release(run)
        return gone

    def watched_here(self, run: Run, hostname: str) -> bool:
        """Whether this host's supervisor may watch the run; elsewhere the run's lease prevents doubles."""
        return run.host == hostname or not self.bound_to_host

    def task_queue(self, run: Run) -> str | None:
        """The django-q2 queue of the workers that may do a task on the run: its host's own where only that
        host can reach its processes and files, else the queue every host shares (None)."""
        return host_queue(run.host) if self.bound_to_host and run.host else None

    def _while_unreachable(self, run: Run, error: EngineUnreachable) -> Observation:
        """An engine restarting is not a lost run until it stays away `unreachable_grace`
        seconds (its commands run on meanwhile); the exit code file tells an end at once."""
        recorded = read_exit_code(run.exit_code_path)
        if recorded is not None:
            return Observation(ProcessState.EXITED, recorded)
        since = _unreachable_since.setdefault((self.kind, run.pk), time.monotonic())
        if time.monotonic() - since < self.unreachable_grace:
            return Observation(ProcessState.RUNNING)
        _unreachable_since.pop((self.kind, run.pk), None)
        return Observation(ProcessState.LOST, reason=str(error))
