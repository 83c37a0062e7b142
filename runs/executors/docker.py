"""Runs inside Docker containers, through the Docker SDK.

Seed mode (the default): the run's argv is `docker exec`ed, detached, in the team's
long-lived training container (`DOCKER_CONTAINER_NAME`, or the project's executor
option `container`), in `DOCKER_WORKING_DIR` (option `working_dir`; a relative path
is taken inside the container's view of the training directory). Per-run mode (option
`image`): a container of that image is created for the run alone, with `--network
none`, the run's GPUs as device requests and the folders below mounted, and the
argv is exec'ed in it the same way; it is removed when the run ends. Nothing is
ever pulled: a missing image is a launch error that says so. A project may name only
containers and images an operator allowed (DOCKER_ALLOWED_CONTAINERS, _IMAGES).

Folders both sides see: the container sees `HOST_TRAINING_DIR` at
`DOCKER_TRAINING_DIR` and `RUNS_DIR` at `DOCKER_RUNS_DIR` (by default the same path,
or the training directory's mapping when RUNS_DIR lies inside HOST_TRAINING_DIR —
the easy set-up for an existing container: `RUNS_DIR=$HOST_TRAINING_DIR/.llmp-runs`).
Paths in the argv, the environment, the working directory and the effective
config's top-level values are translated.

Inside the container the same `sh` wrapper as for local runs records the exit code
in the run folder; a launcher in front of it writes its pid and start time there
first and sends all output to the run's log file, so the platform never holds a
pipe. `docker exec` starts every command as a session leader (runc calls setsid),
so the wrapper's pid is its process group: cancel signals that group *inside* the
container and verifies, in the container's /proc, that none of it is left.
"""

from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import docker
import requests
from django.conf import settings
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import DeviceRequest

from llmplatform.processes import EXIT_CODE_WRAPPER, read_exit_code
from runs import launch
from runs.executors.base import Executor, LaunchError, LaunchSpec, Observation, ProcessState

if TYPE_CHECKING:
    from runs.models import Run

# $0 = the exit-code wrapper, $1 = pid file, $2 = log file, then the exit code file
# and the argv. Writes "pid start_time" (atomically), then becomes the wrapper.
LAUNCHER = (
    'echo "$$ $(cut -d" " -f22 /proc/$$/stat)" > "$1.tmp" && mv "$1.tmp" "$1" || exit 90; '
    'exec < /dev/null >> "$2" 2>&1; shift 2; exec /bin/sh -c "$0" "$@"'
)

# $1 = working directory, $2 = run folder (container paths): checked before launching
# so that a wrong mount is a sentence, not a silent non-start.
PREFLIGHT = '[ -d "$1" ] || { echo workdir; exit 1; }; [ -d "$2" ] && [ -w "$2" ] || { echo run_dir; exit 1; }'

# $1 = action (status | TERM | KILL), $2 = pid, $3 = its start time. Prints the group's
# state: "running" (the wrapper lives), "orphans" (it is gone, children are left) or
# "gone". A live pid with another start time was recycled: the group is gone then
# (Linux never reuses a pid while a process group of that id exists).
GROUP_PROBE = r"""
action=$1 pid=$2 start=$3
members() {
    for f in /proc/[0-9]*/stat; do
        s=$(cat "$f" 2>/dev/null) || continue
        set -- ${s##*) }
        [ "$3" = "$pid" ] && [ "$1" != Z ] && echo "$f"
    done
}
state=gone
if s=$(cat /proc/$pid/stat 2>/dev/null); then
    set -- ${s##*) }
    if [ "${20}" = "$start" ]; then
        [ "$1" != Z ] && state=running
        [ "$state" = gone ] && [ -n "$(members)" ] && state=orphans
    fi
elif [ -n "$(members)" ]; then
    state=orphans
fi
[ "$state" != gone ] && [ "$action" != status ] && kill -s "$action" -- "-$pid" 2>/dev/null
echo "$state"
"""

# The per-run container's main process: idles (tini reaps zombies) until removed.
IDLE_COMMAND = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600; done"]
PID_FILE_TIMEOUT_S = 10.0
# Per run, since when the daemon has not answered this process's supervisor.
_daemon_away_since: dict[object, float] = {}
POLL_INTERVAL_S = 0.2


class DockerUnavailable(Exception):
    """Docker cannot run the command; `str()` says why and how to fix it."""


class ContainerGone(DockerUnavailable):
    """The container is missing or stopped: whatever ran in it is gone too."""


def _client() -> docker.DockerClient:
    return _connect(settings.DOCKER_HOST, settings.DOCKER_TIMEOUT_SECONDS)


@functools.cache
def _connect(base_url: str, timeout: int) -> docker.DockerClient:
    """One client per daemon for the process (the supervisor asks every tick); it reconnects by itself."""
    try:
        return docker.DockerClient(base_url=base_url, timeout=timeout)
    except DockerException as exc:
        raise DockerUnavailable(
            f"The Docker daemon at {settings.DOCKER_HOST} does not answer ({exc}). "
            "Start dockerd, or point DOCKER_HOST at a running one."
        ) from exc


def _running_container(client: docker.DockerClient, name: str) -> Container:
    try:
        container = client.containers.get(name)
    except NotFound as exc:
        raise ContainerGone(
            f"Docker container {name!r} does not exist. Start the training container, or set "
            "DOCKER_CONTAINER_NAME (or the project's executor option 'container') to a running one."
        ) from exc
    except (DockerException, requests.RequestException) as exc:
        raise DockerUnavailable(f"The Docker daemon at {settings.DOCKER_HOST} does not answer ({exc}).") from exc
    if container.status != "running":
        raise ContainerGone(
            f"Docker container {name!r} is {container.status}, not running. Start it with `docker start {name}`."
        )
    return container


def _check_allowed(options: dict[str, Any]) -> None:
    """A project's options name only containers and images an operator allowed (a container
    is a shell on whatever it mounts)."""
    container, image = options.get("container"), options.get("image")
    allowed = [settings.DOCKER_CONTAINER_NAME, *settings.DOCKER_ALLOWED_CONTAINERS]
    if container and container not in allowed and "*" not in allowed:
        raise DockerUnavailable(
            f"The project's container {container!r} is not allowed here: an operator lists it in "
            "DOCKER_ALLOWED_CONTAINERS (or the project uses DOCKER_CONTAINER_NAME)."
        )
    if image and image not in settings.DOCKER_ALLOWED_IMAGES and "*" not in settings.DOCKER_ALLOWED_IMAGES:
        raise DockerUnavailable(
            f"The project's image {image!r} is not allowed for per-run containers: an operator lists it in "
            "DOCKER_ALLOWED_IMAGES."
        )


class PathMap:
    """Host paths → the container's paths, for the folders the container mounts."""

    def __init__(self) -> None:
        training = Path(settings.HOST_TRAINING_DIR)
        runs = Path(settings.RUNS_DIR)
        pairs = [(training, PurePosixPath(settings.DOCKER_TRAINING_DIR))]
        if settings.DOCKER_RUNS_DIR:
            pairs.append((runs, PurePosixPath(settings.DOCKER_RUNS_DIR)))
        elif not runs.is_relative_to(training):
            pairs.append((runs, PurePosixPath(runs)))
        # The most specific folder wins when one lies inside the other.
        self.pairs = sorted(pairs, key=lambda pair: len(pair[0].parts), reverse=True)

    def to_container(self, value: str) -> str:
        """`value` translated when it is a path inside a mounted folder, else unchanged."""
        if not value.startswith("/"):
            return value
        path = Path(value)
        for host, inside in self.pairs:
            if path.is_relative_to(host):
                return str(inside / path.relative_to(host))
        return value

    @property
    def identical(self) -> bool:
        return all(str(host) == str(inside) for host, inside in self.pairs)

    def mounts(self) -> dict[str, dict[str, str]]:
        return {str(host): {"bind": str(inside), "mode": "rw"} for host, inside in self.pairs}


def _working_dir(spec: LaunchSpec, paths: PathMap) -> str:
    configured = spec.options.get("working_dir") or settings.DOCKER_WORKING_DIR
    if not configured:
        return paths.to_container(str(spec.cwd))
    if PurePosixPath(configured).is_absolute():
        return configured
    return str(PurePosixPath(settings.DOCKER_TRAINING_DIR) / configured)


def _translate_config(path: Path, paths: PathMap) -> None:
    """The effective config names host folders (output_dir, resume_from_checkpoint): the trainer
    in the container must read them as it sees them. Top-level values only; a no-op when the
    container mounts every folder at its host path."""
    if paths.identical or not path.is_file():
        return
    config = launch.read_training_yaml(path)
    launch.write_config(
        {key: paths.to_container(value) if isinstance(value, str) else value for key, value in config.items()}, path
    )


def _exec(container: Container, script: str, *args: str) -> tuple[int, str]:
    result = container.exec_run(["/bin/sh", "-c", script, "llmp", *args], stdout=True, stderr=True)
    return result.exit_code, result.output.decode(errors="replace").strip()


class DockerExecutor(Executor):
    kind = "docker"

    def launch(self, run: Run, spec: LaunchSpec) -> dict[str, Any]:
        paths = PathMap()
        pid_path = spec.run_dir / "pid"
        pid_path.unlink(missing_ok=True)
        spec.exit_code_path.unlink(missing_ok=True)
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        per_run = bool(spec.options.get("image"))
        name = f"llmp-run-{run.pk}" if per_run else spec.options.get("container") or settings.DOCKER_CONTAINER_NAME
        try:
            _check_allowed(spec.options)
            client = _client()
            if per_run:
                self._start_run_container(client, run, name, spec, paths)
            container = _running_container(client, name)
            workdir = _working_dir(spec, paths)
            self._preflight(container, workdir, paths.to_container(str(spec.run_dir)))
            _translate_config(spec.run_dir / "config.yaml", paths)
            env = {key: paths.to_container(value) for key, value in spec.env.items()}
            if per_run and spec.gpu_indices:
                # The run's container sees only its GPUs, numbered from 0.
                env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(len(spec.gpu_indices)))
            command = [
                "/bin/sh",
                "-c",
                LAUNCHER,
                EXIT_CODE_WRAPPER,
                *(paths.to_container(str(p)) for p in (pid_path, spec.log_path, spec.exit_code_path)),
                *(paths.to_container(arg) for arg in spec.argv),
            ]
            exec_id = client.api.exec_create(
                container.id, command, stdout=False, stderr=False, environment=env, workdir=workdir
            )["Id"]
            client.api.exec_start(exec_id, detach=True)
            pid, start_time = self._wait_for_pid(client, exec_id, pid_path, name)
        except (DockerUnavailable, DockerException, requests.RequestException) as exc:
            self._remove_run_container({"per_run_container": per_run, "container": name})
            if isinstance(exc, DockerUnavailable):
                raise LaunchError(str(exc)) from exc
            raise LaunchError(f"Docker refused to start the command in container {name!r}: {exc}") from exc
        return {
            "container": name,
            "per_run_container": per_run,
            "pid": pid,
            "start_time": start_time,
            "exec_id": exec_id,
            "exit_code_path": str(spec.exit_code_path),
            "workdir": workdir,
        }

    def observe(self, run: Run) -> Observation:
        state = run.executor_state
        exit_code = read_exit_code(Path(state["exit_code_path"]))
        if exit_code is not None:
            self._remove_run_container(state)
            return Observation(ProcessState.EXITED, exit_code)
        try:
            container = _running_container(_client(), state["container"])
            group = self._probe(container, "status", state)
        except ContainerGone as exc:
            return Observation(ProcessState.LOST, reason=str(exc))
        except (DockerUnavailable, DockerException, requests.RequestException) as exc:
            return self._while_daemon_away(run, exc)
        _daemon_away_since.pop(run.pk, None)
        if group == "running":
            return Observation(ProcessState.RUNNING)
        # The wrapper ended; it may have written its exit code a moment ago.
        exit_code = read_exit_code(Path(state["exit_code_path"]))
        self._remove_run_container(state)
        if exit_code is not None:
            return Observation(ProcessState.EXITED, exit_code)
        return Observation(
            ProcessState.EXITED,
            reason=f"The process ended in container {state['container']!r} without recording an exit code "
            "(killed with SIGKILL, or the container was restarted).",
        )

    def cancel(self, run: Run, *, grace: float) -> bool:
        state = run.executor_state
        if not state.get("pid"):
            return True  # never started
        try:
            container = _running_container(_client(), state["container"])
        except ContainerGone:
            return True  # its processes went with it
        except DockerUnavailable:
            return False  # nobody can tell whether it is gone
        try:
            gone = self._stop_group(container, state, grace=grace)
        except (DockerException, requests.RequestException):
            return False
        if gone:
            self._remove_run_container(state)
        return gone

    def watched_here(self, run: Run, hostname: str) -> bool:
        return True  # any host that reaches the daemon may watch; the run's lease prevents doubles

    # --- helpers ---------------------------------------------------------------

    def _while_daemon_away(self, run: Run, error: Exception) -> Observation:
        """A daemon restarting (with live-restore the trainer keeps running) is not a lost run
        until it stays away DOCKER_UNREACHABLE_GRACE_SECONDS; the exit code file tells an end meanwhile."""
        since = _daemon_away_since.setdefault(run.pk, time.monotonic())
        if time.monotonic() - since < settings.DOCKER_UNREACHABLE_GRACE_SECONDS:
            return Observation(ProcessState.RUNNING)
        _daemon_away_since.pop(run.pk, None)
        reason = str(error) if isinstance(error, DockerUnavailable) else f"The Docker daemon does not answer: {error}"
        return Observation(ProcessState.LOST, reason=reason)

    def _start_run_container(
        self, client: docker.DockerClient, run: Run, name: str, spec: LaunchSpec, paths: PathMap
    ) -> None:
        image = spec.options["image"]
        try:
            client.images.get(image)
        except ImageNotFound as exc:
            raise DockerUnavailable(
                f"Docker image {image!r} is not on this Docker host, and nothing is pulled here. "
                f"Load it first (`docker load` or `docker import`), or fix the project's executor option 'image'."
            ) from exc
        gpus = [DeviceRequest(device_ids=[str(i) for i in spec.gpu_indices], capabilities=[["gpu"]])]
        container = client.containers.create(
            image,
            IDLE_COMMAND,
            name=name,
            init=True,
            network_mode="none",
            volumes=paths.mounts(),
            device_requests=gpus if spec.gpu_indices else None,
            shm_size=spec.options.get("shm_size"),
            labels={"llmp.run": str(run.pk)},
        )
        container.start()

    def _remove_run_container(self, state: dict[str, Any]) -> None:
        if not state.get("per_run_container"):
            return
        # Already gone, or the daemon is away: a later observation removes it.
        with contextlib.suppress(DockerUnavailable, DockerException, requests.RequestException):
            _client().containers.get(state["container"]).remove(force=True)

    def _preflight(self, container: Container, workdir: str, run_dir: str) -> None:
        code, output = _exec(container, PREFLIGHT, workdir, run_dir)
        if code == 0:
            return
        if output == "workdir":
            raise DockerUnavailable(
                f"The working directory {workdir!r} does not exist in container {container.name!r}. "
                "Set DOCKER_WORKING_DIR (or the project's executor option 'working_dir')."
            )
        if output == "run_dir":
            raise DockerUnavailable(
                f"The run folder is not visible (or not writable) in container {container.name!r} at {run_dir!r}. "
                "Mount RUNS_DIR into the container and set DOCKER_RUNS_DIR to where it is mounted, or keep "
                "RUNS_DIR inside HOST_TRAINING_DIR (e.g. $HOST_TRAINING_DIR/.llmp-runs)."
            )
        raise DockerUnavailable(f"Container {container.name!r} cannot run /bin/sh (exit {code}: {output}).")

    def _wait_for_pid(self, client: docker.DockerClient, exec_id: str, pid_path: Path, name: str) -> tuple[int, int]:
        deadline = time.monotonic() + PID_FILE_TIMEOUT_S
        while True:
            try:
                pid, start_time = pid_path.read_text().split()
                return int(pid), int(start_time)
            except (FileNotFoundError, ValueError):
                pass
            inspected = client.api.exec_inspect(exec_id)
            if not inspected["Running"] and not pid_path.exists():
                raise DockerUnavailable(
                    f"The command could not start in container {name!r} (exit {inspected['ExitCode']}) "
                    "before writing its pid file."
                )
            if time.monotonic() >= deadline:
                raise DockerUnavailable(f"The command did not report its pid within {PID_FILE_TIMEOUT_S:.0f} s.")
            time.sleep(POLL_INTERVAL_S / 4)

    def _probe(self, container: Container, action: str, state: dict[str, Any]) -> str:
        code, output = _exec(container, GROUP_PROBE, action, str(state["pid"]), str(state["start_time"]))
        if code != 0 and output not in {"running", "orphans", "gone"}:
            raise DockerException(f"the process probe failed in container {container.name!r}: {output}")
        return output

    def _stop_group(self, container: Container, state: dict[str, Any], *, grace: float) -> bool:
        """SIGTERM the group, wait `grace`, SIGKILL it; True once none of it is left."""
        if self._probe(container, "TERM", state) == "gone":
            return True
        if self._wait_gone(container, state, grace):
            return True
        self._probe(container, "KILL", state)
        return self._wait_gone(container, state, 5.0)

    def _wait_gone(self, container: Container, state: dict[str, Any], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._probe(container, "status", state) != "gone":
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_INTERVAL_S)
        return True
