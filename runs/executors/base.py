"""The one small interface every executor implements.

The run services build a `LaunchSpec` (argv, working directory, environment, the
run's folder); an executor starts it somewhere, tells the supervisor what became
of it, and stops it. Everything else (effective config, log ingestion, metrics,
checkpoints, status transitions) is the same for every executor and lives in
the runs services and supervisor, not here.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


class LaunchError(Exception):
    """The command could not be started; `str()` says why and how to fix it."""


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


class Executor(ABC):
    kind: str
    # True where the engine queues a launched command itself (Slurm): the run then stays
    # `queued`, its job submitted, until the supervisor observes it RUNNING.
    queues_itself: bool = False

    @abstractmethod
    def launch(self, run: Run, spec: LaunchSpec) -> dict[str, Any]:
        """Start the command; return the bookkeeping to keep in `run.executor_state`.

        Raises LaunchError when it cannot start.
        """

    @abstractmethod
    def observe(self, run: Run) -> Observation:
        """What the command is doing now, from `run.executor_state` alone (works after a restart)."""

    @abstractmethod
    def cancel(self, run: Run, *, grace: float) -> bool:
        """Stop the command: SIGTERM, `grace` seconds, SIGKILL; True once verified gone."""

    def watched_here(self, run: Run, hostname: str) -> bool:
        """Whether this host's supervisor may watch the run (local processes: only their host)."""
        return run.host == hostname
