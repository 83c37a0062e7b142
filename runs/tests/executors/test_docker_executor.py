"""The Docker executor against a real, private Docker engine (scripts/services/docker.sh).

Runs are driven through the executor interface alone (launch / observe / cancel),
the way the supervisor drives them, with the stand-in trainer `executor_trainer.py`
run by the container's own python3.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import docker
import pytest

from runs.executors.base import LaunchError, ProcessState
from runs.executors.docker import DockerExecutor
from runs.models import Run

pytestmark = pytest.mark.docker

TRAINER = Path(__file__).parents[1] / "fixtures" / "executor_trainer.py"


@pytest.fixture
def trainer(settings) -> str:
    """The stand-in trainer, copied into the training directory the container sees."""
    target = Path(settings.HOST_TRAINING_DIR) / "train.py"
    shutil.copy(TRAINER, target)
    return str(target)


def finished(executor, run):
    observation = executor.observe(Run.objects.get(pk=run.pk))
    return observation if observation.state is ProcessState.EXITED else None


def log_of(spec) -> str:
    return spec.log_path.read_text() if spec.log_path.exists() else ""


def in_container(docker_settings, command: list[str]) -> tuple[int, str]:
    client = docker.DockerClient(base_url=docker_settings.DOCKER_HOST)
    result = client.containers.get(docker_settings.DOCKER_CONTAINER_NAME).exec_run(command)
    assert result.exit_code is not None and isinstance(result.output, bytes)  # neither detached nor streamed
    return result.exit_code, result.output.decode()


def test_it_runs_the_argv_inside_the_container_and_records_log_and_exit_code(
    docker_settings, executor_run, trainer, poll
):
    hostile = "a b; $(touch /tmp/pwned) `id` 'q'"
    run, spec = executor_run(
        "docker", ["python3", trainer, "--steps", "3", "--exit-code", "3", hostile], gpu_indices=[1]
    )
    executor = DockerExecutor()

    run.executor_state = executor.launch(run, spec)
    run.save()

    observation = poll(lambda: finished(executor, run), what="the trainer to exit")
    assert observation.exit_code == 3
    log = log_of(spec)
    assert f'args=["{hostile}"]' in log.replace('\\"', '"')  # one argument, untouched by any shell
    assert f"LLMP_RUN_DIR={spec.run_dir}" in log
    assert "CUDA_VISIBLE_DEVICES=1" in log
    assert "{'loss': '0.6667', 'epoch': '1.00'}" in log
    assert f"cwd={docker_settings.HOST_TRAINING_DIR}" in log
    assert (spec.run_dir / "output" / "metrics.jsonl").read_text().count("\n") == 3
    assert in_container(docker_settings, ["test", "-e", "/tmp/pwned"])[0] == 1
    assert run.executor_state["container"] == docker_settings.DOCKER_CONTAINER_NAME


def test_it_runs_in_the_configured_working_directory(docker_settings, executor_run, trainer, poll):
    (Path(docker_settings.HOST_TRAINING_DIR) / "train" / "llm").mkdir(parents=True)
    docker_settings.DOCKER_WORKING_DIR = "train/llm"
    run, spec = executor_run("docker", ["python3", trainer, "--steps", "1"])
    executor = DockerExecutor()

    run.executor_state = executor.launch(run, spec)
    run.save()

    assert poll(lambda: finished(executor, run)).exit_code == 0
    assert f"cwd={docker_settings.HOST_TRAINING_DIR}/train/llm" in log_of(spec)


def test_it_translates_host_paths_when_the_container_mounts_the_training_directory_elsewhere(
    docker_settings, executor_run, trainer, poll, tmp_path_factory
):
    """The container sees pytest's base folder at /mnt/llmp too: HOST → DOCKER_TRAINING_DIR."""
    training = Path(docker_settings.HOST_TRAINING_DIR)
    inside = Path("/mnt/llmp") / training.relative_to(tmp_path_factory.getbasetemp())
    docker_settings.DOCKER_TRAINING_DIR = str(inside)
    docker_settings.RUNS_DIR = training / ".llmp-runs"
    run, spec = executor_run("docker", ["python3", trainer, "--steps", "1", f"{training}/data/x.jsonl"])
    (spec.run_dir / "config.yaml").write_text(f"output_dir: {spec.run_dir}/output\nlearning_rate: 0.001\n")
    executor = DockerExecutor()

    run.executor_state = executor.launch(run, spec)
    run.save()

    assert poll(lambda: finished(executor, run)).exit_code == 0
    log = log_of(spec)
    assert f"LLMP_RUN_DIR={inside}/.llmp-runs/{run.pk}" in log
    assert f'args=["{inside}/data/x.jsonl"]' in log
    assert f"cwd={inside}" in log
    # The trainer reads the effective config as the container sees it.
    config = (spec.run_dir / "config.yaml").read_text()
    assert config == f"output_dir: {inside}/.llmp-runs/{run.pk}/output\nlearning_rate: 0.001\n"
    assert (spec.run_dir / "output" / "metrics.jsonl").exists()  # written inside, seen outside


@pytest.mark.parametrize("ignore_sigterm", [False, True], ids=["honours-sigterm", "ignores-sigterm"])
def test_it_cancels_the_whole_process_group_inside_the_container(
    docker_settings, executor_run, trainer, poll, ignore_sigterm
):
    argv = ["python3", trainer, "--steps", "1000", "--step-seconds", "0.2"]
    run, spec = executor_run("docker", [*argv, "--ignore-sigterm"] if ignore_sigterm else argv)
    run.executor_state = DockerExecutor().launch(run, spec)
    run.save()
    child_pid = poll(lambda: next((ln[10:] for ln in log_of(spec).splitlines() if ln.startswith("child_pid=")), None))

    # A fresh executor and the run read back from the database: all it needs is executor_state.
    reloaded = Run.objects.get(pk=run.pk)
    assert DockerExecutor().observe(reloaded).state is ProcessState.RUNNING
    assert DockerExecutor().cancel(reloaded, grace=1.0) is True

    pid = run.executor_state["pid"]
    assert in_container(docker_settings, ["test", "-e", f"/proc/{child_pid}"])[0] == 1, "the child was left behind"
    assert in_container(docker_settings, ["test", "-e", f"/proc/{pid}"])[0] == 1
    observation = DockerExecutor().observe(reloaded)
    assert observation.state is ProcessState.EXITED
    if ignore_sigterm:
        assert observation.exit_code is None  # SIGKILL: the wrapper had no chance to record one
        assert "killed before it could record an exit code" in observation.reason
    else:
        assert observation.exit_code == 143
        assert "got SIGTERM, saving and exiting" in log_of(spec)


def test_it_refuses_to_launch_into_a_missing_container_and_says_how_to_fix_it(docker_settings, executor_run):
    docker_settings.DOCKER_CONTAINER_NAME = "no-such-training-container"
    run, spec = executor_run("docker", ["python3", "-c", "pass"])

    with pytest.raises(LaunchError, match=r"'no-such-training-container' does not exist.*DOCKER_CONTAINER_NAME"):
        DockerExecutor().launch(run, spec)


def test_it_reports_a_stopped_container_on_launch_and_a_run_whose_container_stopped_as_lost(
    docker_settings, executor_run, trainer, tmp_path_factory, poll
):
    client = docker.DockerClient(base_url=docker_settings.DOCKER_HOST)
    base = str(tmp_path_factory.getbasetemp())
    container = client.containers.run(
        "llmp-python:bookworm",
        ["sleep", "600"],
        name=f"llmp-test-stopping-{Path(base).name}",
        detach=True,
        init=True,
        network_mode="none",
        volumes=[f"{base}:{base}:rw"],
    )
    try:
        docker_settings.DOCKER_ALLOWED_CONTAINERS = [container.name]
        options = {"container": container.name}
        run, spec = executor_run("docker", ["python3", trainer, "--steps", "1000"], options=options)
        run.executor_state = DockerExecutor().launch(run, spec)
        run.save()
        poll(lambda: "child_pid=" in log_of(spec))

        container.stop(timeout=1)

        observation = DockerExecutor().observe(run)
        assert observation.state is ProcessState.LOST
        assert f"'{container.name}' is exited" in observation.reason
        assert f"docker start {container.name}" in observation.reason
        with pytest.raises(LaunchError, match="is exited, not running"):
            DockerExecutor().launch(*executor_run("docker", ["true"], options=options))
    finally:
        container.remove(force=True)


def test_it_refuses_to_launch_when_the_daemon_does_not_answer(settings, executor_run, tmp_path):
    settings.DOCKER_HOST = f"unix://{tmp_path}/no-daemon.sock"
    run, spec = executor_run("docker", ["true"])

    with pytest.raises(LaunchError, match=r"does not answer.*Start dockerd"):
        DockerExecutor().launch(run, spec)


def test_it_waits_out_a_daemon_restart_before_calling_a_run_lost(docker_settings, executor_run, trainer, poll):
    run, spec = executor_run("docker", ["python3", trainer, "--steps", "1000"])
    run.executor_state = DockerExecutor().launch(run, spec)
    run.save()
    reachable = docker_settings.DOCKER_HOST
    docker_settings.DOCKER_HOST = f"unix://{spec.run_dir}/no-daemon.sock"  # as if dockerd were restarting

    assert DockerExecutor().observe(run).state is ProcessState.RUNNING
    docker_settings.DOCKER_UNREACHABLE_GRACE_SECONDS = 0.0
    lost = DockerExecutor().observe(run)
    assert lost.state is ProcessState.LOST
    assert "does not answer" in lost.reason

    docker_settings.DOCKER_HOST = reachable
    assert DockerExecutor().cancel(run, grace=0.5) is True


def test_it_refuses_a_run_folder_the_container_cannot_see(docker_settings, executor_run, tmp_path_factory):
    docker_settings.RUNS_DIR = Path("/var/tmp") / f"llmp-unmounted-{tmp_path_factory.getbasetemp().name}"
    run, spec = executor_run("docker", ["true"])
    try:
        with pytest.raises(LaunchError, match=r"run folder is not visible.*DOCKER_RUNS_DIR"):
            DockerExecutor().launch(run, spec)
    finally:
        shutil.rmtree(docker_settings.RUNS_DIR)


@pytest.mark.parametrize("program", ["/nonexistent/trainer", "no-such-trainer", "./train.py"])
def test_it_refuses_a_program_the_container_cannot_run_before_starting_it(docker_settings, executor_run, program):
    run, spec = executor_run("docker", [program, "config.yaml"])  # train.py is there but not executable

    with pytest.raises(LaunchError, match=rf"^command not found: {program} \(in container"):
        DockerExecutor().launch(run, spec)
    assert not spec.exit_code_path.exists(), "nothing was started"


def test_it_runs_a_per_run_container_without_network_and_removes_it_afterwards(
    docker_settings, executor_run, trainer, poll
):
    run, spec = executor_run(
        "docker",
        ["python3", trainer, "--steps", "2", "--step-seconds", "0.5"],
        options={"image": "llmp-python:bookworm"},
    )
    executor = DockerExecutor()
    client = docker.DockerClient(base_url=docker_settings.DOCKER_HOST)

    run.executor_state = executor.launch(run, spec)
    run.save()

    container = client.containers.get(run.executor_state["container"])
    assert container.attrs["HostConfig"]["NetworkMode"] == "none"
    assert poll(lambda: finished(executor, run)).exit_code == 0
    assert "done, exiting with 0" in log_of(spec)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(run.executor_state["container"])


def test_it_never_pulls_a_missing_image(docker_settings, executor_run):
    docker_settings.DOCKER_ALLOWED_IMAGES = ["*"]
    run, spec = executor_run("docker", ["true"], options={"image": "registry.invalid/nothing:1"})

    with pytest.raises(LaunchError, match="not on this Docker host, and nothing is pulled"):
        DockerExecutor().launch(run, spec)

    client = docker.DockerClient(base_url=docker_settings.DOCKER_HOST)
    assert client.containers.get(docker_settings.DOCKER_CONTAINER_NAME).status == "running"  # left alone
    assert not client.containers.list(all=True, filters={"label": f"llmp.run={run.pk}"})


def test_it_removes_the_per_run_container_when_the_command_cannot_start(docker_settings, executor_run):
    docker_settings.DOCKER_WORKING_DIR = "/no/such/folder"
    run, spec = executor_run("docker", ["true"], options={"image": "llmp-python:bookworm"})

    with pytest.raises(LaunchError, match="working directory '/no/such/folder' does not exist"):
        DockerExecutor().launch(run, spec)

    client = docker.DockerClient(base_url=docker_settings.DOCKER_HOST)
    assert not client.containers.list(all=True, filters={"label": f"llmp.run={run.pk}"})


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ({"container": "the-database"}, "container 'the-database' is not allowed here.*DOCKER_ALLOWED_CONTAINERS"),
        ({"image": "someone/else:latest"}, "image 'someone/else:latest' is not allowed.*DOCKER_ALLOWED_IMAGES"),
    ],
)
def test_it_runs_only_in_containers_and_images_an_operator_allowed(settings, executor_run, options, refusal):
    run, spec = executor_run("docker", ["true"], options=options)

    with pytest.raises(LaunchError, match=refusal):
        DockerExecutor().launch(run, spec)
