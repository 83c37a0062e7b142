"""Runs on this host as a detached process group (llmplatform.processes).

The trainer lives in its own session, its output goes to the run's log file, and
the exit code wrapper leads its process group, so it outlives restarts of the web
server, the workers and the supervisor. `executor_state` keeps the wrapper's pid and
start time (a recycled pid is never mistaken for it) and its process group, which
is what gets signalled and must be empty before a cancel counts as done.
"""

from __future__ import annotations

import signal
from typing import Any

from llmplatform.processes import (
    ProcessIdentity,
    cpu_seconds,
    group_members,
    is_running,
    program_problem,
    signal_group,
    spawn,
)
from runs.executors.base import Executor, LaunchError, LaunchSpec, Observation, ProcessState
from runs.models import Run


class LocalExecutor(Executor):
    kind = "local"
    bound_to_host = True
    handle = "pid"
    poll_interval = 0.05

    def start(self, run: Run, spec: LaunchSpec) -> dict[str, Any]:
        """Spawn the wrapped argv in a new session, output appended to the run's log."""
        if not spec.cwd.is_dir():
            raise LaunchError(f"the working directory {spec.cwd} does not exist (setting HOST_TRAINING_DIR)")
        env = spec.inherited_env()
        if problem := program_problem(spec.argv[0], cwd=spec.cwd, env=env):
            raise LaunchError(problem)
        try:
            identity = spawn(
                spec.argv,
                cwd=spec.cwd,
                env=env,
                log_path=spec.log_path,
                exit_code_path=spec.exit_code_path,
            )
        except OSError as exc:
            raise LaunchError(f"{exc.strerror or exc} ({spec.argv[0]})") from exc
        return {**identity.as_dict(), "pgid": identity.pid}

    def state(self, run: Run) -> Observation:
        """Running while that very wrapper process lives."""
        alive = is_running(ProcessIdentity.from_dict(run.executor_state))
        return Observation(ProcessState.RUNNING if alive else ProcessState.EXITED)

    def signal(self, run: Run, sig: signal.Signals) -> None:
        """Signal the whole process group: the trainer's children (dataloader workers) too."""
        signal_group(_pgid(run), sig)

    def alive(self, run: Run) -> bool:
        """Any live process left in the group, the wrapper's children included."""
        return bool(group_members(_pgid(run)))

    def cpu_seconds(self, run: Run) -> float:
        """The CPU time of the run's process group, from this host's /proc."""
        return cpu_seconds(self.process_ids(run))

    def process_ids(self, run: Run) -> list[int]:
        """Every process of the run's group: the wrapper, the trainer and its workers."""
        return group_members(_pgid(run)) if run.executor_state.get(self.handle) else []


def _pgid(run: Run) -> int:
    return int(run.executor_state.get("pgid", run.executor_state["pid"]))
