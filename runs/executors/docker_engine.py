"""Talking to the Docker daemon (the Docker SDK) about containers and the processes in them.

What the docker executor needs of Docker, each a small function: a running
container by name (or a sentence saying why there is none), a per-run container
of an allowed, already loaded image (nothing is ever pulled), the host folders it
mounts and their paths inside, a shell script run in it, a command started in it
detached with its pid reported, its process group probed and signalled, and its CPU
time read, in the container's /proc, and found in this host's /proc.

`docker exec` starts every command as a session leader (runc calls setsid), so the
exit-code wrapper's pid is its process group inside the container.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, cast

import docker
import requests
from django.conf import settings
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import DeviceRequest

from llmplatform.processes import COMMAND_NOT_FOUND, program_check
from llmplatform.training_yaml import read_training_yaml
from runs import launch
from runs.executors.base import EngineUnreachable, LaunchError, LaunchSpec

if TYPE_CHECKING:
    from runs.models import Run

# $0 = the exit-code wrapper, $1 = pid file, $2 = log file, then the exit code file
# and the argv. Writes "pid start_time" (atomically), then becomes the wrapper.
LAUNCHER = (
    'echo "$$ $(cut -d" " -f22 /proc/$$/stat)" > "$1.tmp" && mv "$1.tmp" "$1" || exit 90; '
    'exec < /dev/null >> "$2" 2>&1; shift 2; exec /bin/sh -c "$0" "$@"'
)

# $1 = working directory, $2 = run folder (container paths), $3 = the program: checked before
# launching so that a wrong mount or a missing program is a sentence, not a silent non-start.
PREFLIGHT = (
    '[ -d "$1" ] || { echo workdir; exit 1; }; [ -d "$2" ] && [ -w "$2" ] || { echo run_dir; exit 1; }; '
    'cd "$1" && { ' + program_check('"$3"') + "; } || { echo program; exit 1; }"
)

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

# $1 = a process group's id: the user plus system CPU time its live processes have used, in clock
# ticks, then the ticks per second. Read in the container's /proc because only the group is this
# run's: the container's own stats (its cgroup) add up every run exec'ed in a shared container.
GROUP_CPU = r"""
pgid=$1 ticks=0
for f in /proc/[0-9]*/stat; do
    { read -r s < "$f"; } 2>/dev/null || continue
    set -- ${s##*) }
    [ "$3" = "$pgid" ] && [ "$1" != Z ] && ticks=$((ticks + ${12} + ${13}))
done
echo "$ticks $(getconf CLK_TCK 2>/dev/null || echo 100)"
"""

# The per-run container's main process: idles (tini reaps zombies) until removed.
IDLE_COMMAND = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600; done"]
PID_FILE_TIMEOUT_S = 10.0


class ContainerGone(LaunchError):
    """The container is missing or stopped: whatever ran in it is gone too."""


@contextlib.contextmanager
def daemon_errors(sentence: str) -> Iterator[None]:
    """The SDK's and its HTTP client's errors as EngineUnreachable, `sentence` first."""
    try:
        yield
    except (DockerException, requests.RequestException) as exc:
        raise EngineUnreachable(f"{sentence}: {exc}") from exc


def client() -> docker.DockerClient:
    return _connect(settings.DOCKER_HOST, settings.DOCKER_TIMEOUT_SECONDS)


@functools.cache
def _connect(base_url: str, timeout: int) -> docker.DockerClient:
    """One client per daemon for the process (the supervisor asks every tick); it reconnects by itself."""
    try:
        return docker.DockerClient(base_url=base_url, timeout=timeout)
    except DockerException as exc:
        raise EngineUnreachable(
            f"The Docker daemon at {settings.DOCKER_HOST} does not answer ({exc}). "
            "Start dockerd, or point DOCKER_HOST at a running one."
        ) from exc


def running_container(name: str) -> Container:
    try:
        container = client().containers.get(name)
    except NotFound as exc:
        raise ContainerGone(
            f"Docker container {name!r} does not exist. Start the training container, or set "
            "DOCKER_CONTAINER_NAME (or the project's executor option 'container') to a running one."
        ) from exc
    if container.status != "running":
        raise ContainerGone(
            f"Docker container {name!r} is {container.status}, not running. Start it with `docker start {name}`."
        )
    return container


def check_allowed(options: dict[str, Any]) -> None:
    """A project's options name only containers and images an operator allowed (a container
    is a shell on whatever it mounts)."""
    container, image = options.get("container"), options.get("image")
    allowed = [settings.DOCKER_CONTAINER_NAME, *settings.DOCKER_ALLOWED_CONTAINERS]
    if container and container not in allowed and "*" not in allowed:
        raise LaunchError(
            f"The project's container {container!r} is not allowed here: an operator lists it in "
            "DOCKER_ALLOWED_CONTAINERS (or the project uses DOCKER_CONTAINER_NAME)."
        )
    if image and image not in settings.DOCKER_ALLOWED_IMAGES and "*" not in settings.DOCKER_ALLOWED_IMAGES:
        raise LaunchError(
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

    def working_dir(self, spec: LaunchSpec) -> str:
        """DOCKER_WORKING_DIR (or the option), relative ones inside the training directory; else the spec's."""
        configured = spec.options.get("working_dir") or settings.DOCKER_WORKING_DIR
        if not configured:
            return self.to_container(str(spec.cwd))
        if PurePosixPath(configured).is_absolute():
            return configured
        return str(PurePosixPath(settings.DOCKER_TRAINING_DIR) / configured)

    def translate_config(self, path: Path) -> None:
        """The effective config names host folders (output_dir, resume_from_checkpoint): the trainer
        in the container must read them as it sees them. Top-level values only; a no-op when the
        container mounts every folder at its host path."""
        if self.identical or not path.is_file():
            return
        config = read_training_yaml(path)
        translated = {
            key: self.to_container(value) if isinstance(value, str) else value for key, value in config.items()
        }
        launch.write_config(translated, path)
        self.translate_dataset_info(path.with_name(launch.DATASET_INFO))

    def translate_dataset_info(self, path: Path) -> None:
        """The dataset_info.json the platform wrote beside the config names the uploaded files by host path."""
        if not path.is_file():
            return
        entries = json.loads(path.read_text(encoding="utf-8"))
        for entry in entries.values():
            entry["file_name"] = self.to_container(entry["file_name"])
        launch.write_dataset_info(entries, path.parent)


def create_run_container(run: Run, name: str, spec: LaunchSpec, paths: PathMap) -> None:
    """The run's own container of the project's image: no network, its GPUs, the shared folders."""
    image = spec.options["image"]
    try:
        client().images.get(image)
    except ImageNotFound as exc:
        raise LaunchError(
            f"Docker image {image!r} is not on this Docker host, and nothing is pulled here. "
            f"Load it first (`docker load` or `docker import`), or fix the project's executor option 'image'."
        ) from exc
    gpus = [DeviceRequest(device_ids=[str(i) for i in spec.gpu_indices], capabilities=[["gpu"]])]
    container = client().containers.create(
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


def remove_container(name: str) -> None:
    # Already gone, or the daemon is away: a later observation removes it.
    with contextlib.suppress(LaunchError, DockerException, requests.RequestException):
        client().containers.get(name).remove(force=True)


def run_script(container: Container, script: str, *args: str) -> tuple[int, str]:
    result = container.exec_run(["/bin/sh", "-c", script, "llmp", *args], stdout=True, stderr=True)
    # Neither streamed nor detached, so the output is bytes and the exit code is known (the stubs allow both).
    return cast(int, result.exit_code), cast(bytes, result.output).decode(errors="replace").strip()


def preflight(container: Container, workdir: str, run_dir: str, program: str) -> None:
    code, output = run_script(container, PREFLIGHT, workdir, run_dir, program)
    if code == 0:
        return
    if output == "workdir":
        raise LaunchError(
            f"The working directory {workdir!r} does not exist in container {container.name!r}. "
            "Set DOCKER_WORKING_DIR (or the project's executor option 'working_dir')."
        )
    if output == "run_dir":
        raise LaunchError(
            f"The run folder is not visible (or not writable) in container {container.name!r} at {run_dir!r}. "
            "Mount RUNS_DIR into the container and set DOCKER_RUNS_DIR to where it is mounted, or keep "
            "RUNS_DIR inside HOST_TRAINING_DIR (e.g. $HOST_TRAINING_DIR/.llmp-runs)."
        )
    if output == "program":
        raise LaunchError(f"{COMMAND_NOT_FOUND}: {program} (in container {container.name!r}, from {workdir!r})")
    raise LaunchError(f"Container {container.name!r} cannot run /bin/sh (exit {code}: {output}).")


def exec_detached(
    container: Container, command: list[str], *, env: dict[str, str], workdir: str, pid_path: Path
) -> tuple[int, int]:
    """Start `command` (the LAUNCHER) detached in `container`; its pid and start time, once it wrote them."""
    api = client().api
    exec_id = api.exec_create(container.id, command, stdout=False, stderr=False, environment=env, workdir=workdir)["Id"]
    api.exec_start(exec_id, detach=True)
    deadline = time.monotonic() + PID_FILE_TIMEOUT_S
    while True:
        try:
            pid, start_time = pid_path.read_text().split()
            return int(pid), int(start_time)
        except (FileNotFoundError, ValueError):
            pass
        inspected = api.exec_inspect(exec_id)
        if not inspected["Running"] and not pid_path.exists():
            raise LaunchError(
                f"The command could not start in container {container.name!r} (exit {inspected['ExitCode']}) "
                "before writing its pid file."
            )
        if time.monotonic() >= deadline:
            raise LaunchError(f"The command did not report its pid within {PID_FILE_TIMEOUT_S:.0f} s.")
        time.sleep(0.05)


def probe_group(container: Container, action: str, pid: int, start_time: int) -> str:
    """Signal the process group inside `container` (action TERM or KILL) or just look ("status");
    its state before: "running", "orphans" or "gone"."""
    code, output = run_script(container, GROUP_PROBE, action, str(pid), str(start_time))
    if code != 0 and output not in {"running", "orphans", "gone"}:
        raise EngineUnreachable(f"The process probe failed in container {container.name!r}: {output}")
    return output


def group_cpu_seconds(container: Container, pgid: int) -> float:
    """CPU seconds the live processes of the process group `pgid` in `container` have used so far."""
    _, output = run_script(container, GROUP_CPU, str(pgid))
    try:
        ticks, per_second = (int(word) for word in output.split())
    except ValueError:
        raise EngineUnreachable(f"The CPU probe failed in container {container.name!r}: {output}") from None
    return ticks / per_second


def host_pids(container: Container, pgid: int) -> list[int] | None:
    """This host's pids of the live processes of the process group `pgid` (as the container numbers it) in
    `container`, for py-spy here; None where the daemon's processes are not this host's (a DOCKER_HOST
    elsewhere, or a daemon in another pid namespace)."""
    container_id = str(container.id)
    if not _in_container(int(container.attrs["State"]["Pid"]), container_id):
        return None
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and _own_pgid(int(entry.name)) == pgid and _in_container(int(entry.name), container_id):
            pids.append(int(entry.name))
    return pids


def _in_container(pid: int, container_id: str) -> bool:
    """Whether this host's process `pid` lives in the container: its cgroup path names the container's id."""
    try:
        return container_id in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False


def _own_pgid(pid: int) -> int | None:
    """The process group of this host's live process `pid` as its own pid namespace numbers it (NSpgid's last)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = {key: value.split() for key, _, value in (line.partition(":") for line in status.splitlines())}
    if fields.get("State", ["Z"])[0] in {"Z", "X"} or not fields.get("NSpgid"):
        return None
    return int(fields["NSpgid"][-1])
