"""Real engines for the executor tests: a private Docker daemon and a one-node Slurm cluster.

Both are started once per test session by the repository's own scripts
(`scripts/services/docker.sh`, `scripts/services/slurm.sh`) — the same ones CI runs —
and stopped by the last session using them if a test session started them. Where an engine cannot start
(no package, no privileges), its tests are skipped with the script's reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmplatform.testing import wait_for

REPO = Path(__file__).resolve().parents[3]
SERVICES = REPO / "scripts" / "services"
SERVICES_DIR = Path(os.environ.get("LLMP_SERVICES_DIR", "/tmp/llmp-services"))  # as the scripts use it


def _service(name: str, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SERVICES / f"{name}.sh"), action], capture_output=True, text=True, timeout=900, check=False
    )


def _started_service(name: str) -> Iterator[dict[str, str]]:
    """Start a service through its script (unless it runs); yield and apply its `export KEY=value` lines.

    Several test sessions may share one engine on a machine (worktrees, CI's two
    database passes): each holds a shared lock on `<name>.users` while it uses it, and
    the last one out stops it if a test session started it.
    """
    SERVICES_DIR.mkdir(parents=True, exist_ok=True)
    marker = SERVICES_DIR / f"{name}.started-by-tests"
    with open(SERVICES_DIR / f"{name}.users", "a") as users:
        with open(SERVICES_DIR / f"{name}.start.lock", "a") as start_lock:
            fcntl.flock(start_lock, fcntl.LOCK_EX)
            answer = _service(name, "status")
            if answer.returncode != 0:
                answer = _service(name, "start")
                if answer.returncode != 0:
                    reason = (answer.stderr.strip().splitlines() or ["no output"])[-1]
                    print(f"\n{name} could not start; its tests are skipped. Its output:\n{answer.stderr}")
                    pytest.skip(f"{name} could not start here: {reason}")
                marker.touch()
            fcntl.flock(users, fcntl.LOCK_SH)
        exports = [line.removeprefix("export ") for line in answer.stdout.splitlines() if line.startswith("export ")]
        env = dict(line.split("=", 1) for line in exports)
        previous = {key: os.environ.get(key) for key in env}
        os.environ.update(env)  # for the clients the executors run (sbatch reads SLURM_CONF)
        yield env
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        with open(SERVICES_DIR / f"{name}.start.lock", "a") as start_lock:
            fcntl.flock(start_lock, fcntl.LOCK_EX)
            fcntl.flock(users, fcntl.LOCK_UN)
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another session still uses it
            if marker.exists():
                _service(name, "stop")
                marker.unlink()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[dict[str, str]]:
    """A private dockerd (no bridge, no iptables) with the `llmp-python:bookworm` image."""
    yield from _started_service("docker")


@pytest.fixture(scope="session")
def training_container(docker_engine, tmp_path_factory) -> Iterator[str]:
    """A long-lived training container (shared-container mode), seeing every test's folders.

    pytest's base temporary folder (holding each test's training directory and runs
    folder) is mounted at the same path, and again at /mnt/llmp so that a test can
    check the translation of host paths when DOCKER_TRAINING_DIR differs.
    """
    import docker

    client = docker.DockerClient(base_url=docker_engine["DOCKER_HOST"])
    base = str(tmp_path_factory.getbasetemp())
    name = f"llmp-test-training-{os.getpid()}"
    container = client.containers.run(
        "llmp-python:bookworm",
        ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600; done"],
        name=name,
        detach=True,
        init=True,
        network_mode="none",
        volumes=[f"{base}:{base}:rw", f"{base}:/mnt/llmp:rw"],
    )
    yield name
    with contextlib.suppress(docker.errors.NotFound):  # an engine stopped by another session takes it along
        container.remove(force=True)
    client.close()


@pytest.fixture
def docker_settings(settings, docker_engine, training_container):
    """Settings of a test whose runs go through the docker executor into the training container."""
    settings.DOCKER_HOST = docker_engine["DOCKER_HOST"]
    settings.DOCKER_CONTAINER_NAME = training_container
    settings.DOCKER_WORKING_DIR = ""
    settings.DOCKER_ALLOWED_IMAGES = ["llmp-python:bookworm"]
    return settings


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[dict[str, str]]:
    """A one-node Slurm cluster with accounting and two fake GPUs (SLURM_CONF exported)."""
    yield from _started_service("slurm")


@pytest.fixture
def executor_run(db, settings):
    """A factory: a run of a project on `executor`, with its folder and a LaunchSpec for `argv`.

    The runs services normally build the LaunchSpec; the executor tests build one
    directly so that they drive the executor interface alone.
    """
    from projects.models import Project
    from runs.executors.base import LaunchSpec
    from runs.models import Run

    def make(executor: str, argv: list[str], *, options: dict | None = None, gpu_indices=(), cwd=None):
        project = Project.objects.create(name=f"p-{executor}-{Project.objects.count()}", executor=executor)
        run = Run.objects.create(project=project, executor=executor, gpu_indices=list(gpu_indices))
        run_dir = Path(settings.RUNS_DIR) / str(run.pk)
        run_dir.mkdir(parents=True)
        run.run_dir = str(run_dir)
        run.save(update_fields=["run_dir"])
        env = {"LLMP_RUN_ID": str(run.pk), "LLMP_RUN_DIR": str(run_dir), "LLMP_OUTPUT_DIR": str(run_dir / "output")}
        if gpu_indices:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(index) for index in gpu_indices)
        spec = LaunchSpec(
            argv=argv,
            cwd=Path(cwd or settings.HOST_TRAINING_DIR),
            env=env,
            run_dir=run_dir,
            log_path=run_dir / "train.log",
            exit_code_path=run_dir / "exit_code",
            gpu_indices=list(gpu_indices),
            options=options or {},
        )
        return run, spec

    return make


@pytest.fixture
def poll():
    """wait_for with the patience a container or a Slurm job needs to start."""
    return functools.partial(wait_for, timeout=30.0)
