"""Runs on this host as a detached process group (llmplatform.processes).

The trainer lives in its own session, its output goes to the run's log file, and a
small wrapper records its exit code in a file, so it outlives restarts of the web
server, the workers and the supervisor, and its end is known even if nobody was
watching. `executor_state` keeps its pid and start time: a recycled pid is never
mistaken for it.
"""

from __future__ import annotations

import os
from typing import Any

from llmplatform.processes import (
    ProcessIdentity,
    is_running,
    read_exit_code,
    spawn,
    terminate_group,
)
from runs.executors.base import Executor, LaunchError, LaunchSpec, Observation, ProcessState
from runs.models import Run

# The platform's own secrets stay out of the trainer's environment.
WITHHELD_VARIABLES = frozenset({"SECRET_KEY", "DATABASE_URL", "REDIS_URL"})


def _identity(run: Run) -> ProcessIdentity | None:
    state = run.executor_state or {}
    return ProcessIdentity.from_dict(state) if "pid" in state else None


class LocalExecutor(Executor):
    kind = "local"

    def launch(self, run: Run, spec: LaunchSpec) -> dict[str, Any]:
        env = {name: value for name, value in os.environ.items() if name not in WITHHELD_VARIABLES}
        env.update(spec.env)
        if not spec.cwd.is_dir():
            raise LaunchError(f"the working directory {spec.cwd} does not exist (setting HOST_TRAINING_DIR)")
        try:
            identity = spawn(
                spec.argv, cwd=spec.cwd, env=env, log_path=spec.log_path, exit_code_path=spec.exit_code_path
            )
        except OSError as exc:
            raise LaunchError(f"{exc.strerror or exc} ({spec.argv[0]})") from exc
        return {**identity.as_dict(), "pgid": identity.pid}

    def observe(self, run: Run) -> Observation:
        identity = _identity(run)
        if identity is not None and is_running(identity):
            return Observation(ProcessState.RUNNING)
        exit_code = read_exit_code(run.exit_code_path)
        if identity is None and exit_code is None:
            return Observation(ProcessState.LOST, reason="no process was recorded for this run")
        return Observation(
            ProcessState.EXITED,
            exit_code=exit_code,
            reason="" if exit_code is not None else "killed before it could record an exit code",
        )

    def cancel(self, run: Run, *, grace: float) -> bool:
        identity = _identity(run)
        if identity is None:
            return True
        return terminate_group(int(run.executor_state.get("pgid", identity.pid)), grace=grace)
