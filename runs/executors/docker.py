"""Runs inside Docker containers (runs.executors.docker_engine talks to the daemon).

Shared-container mode (the default): the run's argv is `docker exec`ed, detached, in the team's
long-lived training container (`DOCKER_CONTAINER_NAME`, or the project's executor
option `container`), in `DOCKER_WORKING_DIR` (option `working_dir`; a relative path
is taken inside the container's view of the training directory). Per-run mode (option
`image`): a container of that image is created for the run alone, with `--network
none`, the run's GPUs as device requests and the shared folders mounted, and the
argv is exec'ed in it the same way; it is removed when the run ends. Nothing is
ever pulled. A project may name only containers and images an operator allowed
(DOCKER_ALLOWED_CONTAINERS, _IMAGES).

Folders both sides see: the container sees `HOST_TRAINING_DIR` at
`DOCKER_TRAINING_DIR` and `RUNS_DIR` at `DOCKER_RUNS_DIR` (by default the same path,
or the training directory's mapping when RUNS_DIR lies inside HOST_TRAINING_DIR —
the easy set-up for an existing container: `RUNS_DIR=$HOST_TRAINING_DIR/.llmp-runs`).
Paths in the argv, the environment, the working directory and the effective
config's top-level values are translated. A launcher in front of the exit-code
wrapper writes its pid and start time into the run folder and sends all output to
the run's log file, so the platform never holds a pipe; that pid is the process
group signalled, and verified empty, inside the container.

The stall watch reads that group's CPU time in the container's /proc too (the container's
own stats would add every run sharing it). For a stack dump, where the daemon runs on this
host, the group's processes are found in this host's /proc (their cgroup names the
container, their NSpgid ends with that pid), which py-spy here can read.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any

from django.conf import settings

from llmplatform.processes import EXIT_CODE_WRAPPER
from runs.executors import docker_engine as engine
from runs.executors.base import Executor, LaunchError, LaunchSpec, Observation, ProcessState
from runs.models import Run


class DockerExecutor(Executor):
    kind = "docker"
    handle = "pid"

    @property
    def unreachable_grace(self) -> float:
        # With live-restore, a daemon restart leaves the trainer running.
        return settings.DOCKER_UNREACHABLE_GRACE_SECONDS

    def start(self, run: Run, spec: LaunchSpec) -> dict[str, Any]:
        """Exec the launcher in the training container (or the run's own, created first)."""
        paths = engine.PathMap()
        pid_path = spec.run_dir / "pid"
        pid_path.unlink(missing_ok=True)
        per_run = bool(spec.options.get("image"))
        name = f"llmp-run-{run.pk}" if per_run else spec.options.get("container") or settings.DOCKER_CONTAINER_NAME
        env = {key: paths.to_container(value) for key, value in spec.env.items()}
        if per_run and spec.gpu_indices:  # the run's container sees only its GPUs, numbered from 0
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(len(spec.gpu_indices)))
        wrapped = (pid_path, spec.log_path, spec.exit_code_path)
        command = [
            *("/bin/sh", "-c", engine.LAUNCHER, EXIT_CODE_WRAPPER),
            *(paths.to_container(str(path)) for path in wrapped),
            *(paths.to_container(arg) for arg in spec.argv),
        ]
        try:
            with engine.daemon_errors(f"Docker refused to start the command in container {name!r}"):
                engine.check_allowed(spec.options)
                if per_run:
                    engine.create_run_container(run, name, spec, paths)
                container = engine.running_container(name)
                workdir = paths.working_dir(spec)
                engine.preflight(
                    container, workdir, paths.to_container(str(spec.run_dir)), paths.to_container(spec.argv[0])
                )
                paths.translate_config(spec.run_dir / "config.yaml")
                pid, start_time = engine.exec_detached(container, command, env=env, workdir=workdir, pid_path=pid_path)
        except LaunchError:
            if per_run:
                engine.remove_container(name)
            raise
        return {"container": name, "per_run_container": per_run, "pid": pid, "start_time": start_time}

    def state(self, run: Run) -> Observation:
        """Running while the wrapper lives in the container; its container gone (LOST) says so."""
        group = self._probe(run, "status")
        return Observation(ProcessState.RUNNING if group == "running" else ProcessState.EXITED)

    def signal(self, run: Run, sig: signal.Signals) -> None:
        """Signal the process group inside the container; a gone container took it along."""
        with contextlib.suppress(engine.ContainerGone):
            self._probe(run, sig.name.removeprefix("SIG"))

    def alive(self, run: Run) -> bool:
        """Any process of the group left in the container's /proc."""
        try:
            return self._probe(run, "status") != "gone"
        except engine.ContainerGone:
            return False

    def release(self, run: Run) -> None:
        """Remove the run's own container (the shared training container stays)."""
        if run.executor_state.get("per_run_container"):
            engine.remove_container(run.executor_state["container"])

    def cpu_seconds(self, run: Run) -> float:
        """The CPU time of the run's process group, read in the container: only this run's processes, where the
        container's stats would add every run sharing it."""
        with self._daemon():
            return engine.group_cpu_seconds(engine.running_container(run.executor_state["container"]), _pgid(run))

    def process_ids(self, run: Run) -> list[int] | None:
        """The run's process group as this host numbers it, where the daemon runs on this host; else None."""
        with self._daemon():
            return engine.host_pids(engine.running_container(run.executor_state["container"]), _pgid(run))

    def _probe(self, run: Run, action: str) -> str:
        state = run.executor_state
        with self._daemon():
            container = engine.running_container(state["container"])
            return engine.probe_group(container, action, state["pid"], state["start_time"])

    def _daemon(self) -> contextlib.AbstractContextManager[None]:
        return engine.daemon_errors(f"The Docker daemon at {settings.DOCKER_HOST} does not answer")


def _pgid(run: Run) -> int:
    """The launcher's pid in the container, which `docker exec` made its process group's (and session's) leader."""
    return int(run.executor_state["pid"])
