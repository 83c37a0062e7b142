"""Runs of a Docker project through the API, end to end, in a real training container.

The project's runs are exec'ed in the long-lived training container the session
fixture started (scripts/services/docker.sh's engine); the stand-in trainer
`fake_trainer.py` runs under the container's own python3, and the supervisor reads
its log and files from the run folder both sides see.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import docker
import pytest

from gpus.models import GpuClaim
from llmplatform.testing import wait_for
from runs.models import Artifact
from runs.tests.executors.run_api import detail, hang_until_flagged, launch, until_status
from runs.tests.fixtures import FAKE_TRAINER

pytestmark = [pytest.mark.docker, pytest.mark.slow]

STALL_AFTER = 3


@pytest.fixture
def docker_project(project, docker_settings, training_dir):
    """The `demo` project on the docker executor, its command run by the container's python3."""
    shutil.copy(FAKE_TRAINER, training_dir / "fake_trainer.py")
    docker_settings.TRAINING_COMMAND = "python3 fake_trainer.py {training_yaml}"
    docker_settings.CANCEL_GRACE_SECONDS = 5.0
    # A cancel waits for the supervisor's lease, which only lapses here (no loop runs beside the test).
    docker_settings.SUPERVISOR_LEASE_SECONDS = 2.0
    project.executor = "docker"
    project.save(update_fields=["executor"])
    return project


def in_container(settings, *command: str) -> int:
    client = docker.DockerClient(base_url=settings.DOCKER_HOST)
    exit_code = client.containers.get(settings.DOCKER_CONTAINER_NAME).exec_run(list(command)).exit_code
    assert exit_code is not None  # not detached: exec_run waited for the command
    return exit_code


def test_it_trains_in_the_container_with_live_logs_metrics_and_checkpoints(
    member_client, docker_project, supervisor, django_capture_on_commit_callbacks, settings
):
    settings.GPU_IDS = "0,1"
    body = {"hyperparameters": {"max_steps": 20, "step_seconds": 0.05}, "resources": {"gpu_count": 1}}
    run_id = launch(member_client, docker_project, body, django_capture_on_commit_callbacks)

    running = detail(member_client, docker_project, run_id)
    assert running["status"] == "running"
    assert running["executor"] == "docker"
    assert GpuClaim.objects.filter(holder_id=run_id).count() == 1  # the ledger hands out docker runs' GPUs
    done = until_status(member_client, docker_project, run_id, supervisor, "completed", "failed")

    assert done["status"] == "completed", [line["message"] for line in done["logs"]]
    assert done["progress"] == 1.0
    assert done["exit_code"] == 0
    assert "train/loss" in done["metrics"] or "loss" in done["metrics"]
    assert {"checkpoint-10", "checkpoint-20"} <= {item["name"] for item in done["artifacts"]}
    logs = member_client.get(f"/projects/{docker_project.name}/runs/{run_id}/logs?page_size=500").json()["items"]
    assert any("Training started on GPU" in item["message"] for item in logs)
    assert any("'loss'" in item["message"] for item in logs)
    assert not GpuClaim.objects.exists()  # released the moment it ended


def test_it_cancels_inside_the_container_keeps_the_checkpoint_and_resumes_from_it(
    owner_client, docker_project, supervisor, django_capture_on_commit_callbacks, docker_settings
):
    body = {"hyperparameters": {"max_steps": 1000, "step_seconds": 0.05, "save_steps": 0}}
    run_id = launch(owner_client, docker_project, body, django_capture_on_commit_callbacks)
    worker_pid_file = Path(docker_project.runs.get(pk=run_id).output_dir) / "worker.pid"
    wait_for(lambda: worker_pid_file.exists() and detail(owner_client, docker_project, run_id)["current_step"],
             between=supervisor.tick)  # fmt: skip

    response = owner_client.post(f"/projects/{docker_project.name}/runs/{run_id}/cancel")

    assert response.status_code == 200, response.content
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    worker_pid = worker_pid_file.read_text().strip()
    assert in_container(docker_settings, "test", "-e", f"/proc/{worker_pid}") == 1, "a worker was left running"
    checkpoint = cancelled["latest_checkpoint"]
    assert checkpoint is not None, "the trainer saved on SIGTERM; that checkpoint is offered"
    assert any("every process of the run has stopped" in line["message"] for line in cancelled["logs"])

    with django_capture_on_commit_callbacks(execute=True):
        resumed = owner_client.post(
            f"/projects/{docker_project.name}/runs/{run_id}/resume?source_artifact_id={checkpoint['id']}",
            {"hyperparameters": {"max_steps": checkpoint["step"] + 5, "step_seconds": 0.01}},
            format="json",
        )
    assert resumed.status_code == 201, resumed.content
    done = until_status(owner_client, docker_project, resumed.json()["id"], supervisor, "completed", "failed")
    assert done["status"] == "completed"
    assert done["resumed_from"] == checkpoint["id"]
    logs = owner_client.get(f"/projects/{docker_project.name}/runs/{done['id']}/logs?q=Continuing").json()["items"]
    assert any(f"from global step {checkpoint['step']}" in item["message"] for item in logs)


def test_it_fails_a_run_whose_container_is_missing_with_an_error_line_saying_how_to_fix_it(
    owner_client, docker_project, django_capture_on_commit_callbacks, docker_settings
):
    docker_settings.DOCKER_CONTAINER_NAME = "no-such-training-container"

    run_id = launch(owner_client, docker_project, {}, django_capture_on_commit_callbacks)

    failed = detail(owner_client, docker_project, run_id)
    assert failed["status"] == "failed"
    errors = [line["message"] for line in failed["logs"] if line["level"] == "ERROR"]
    assert any(
        "Docker container 'no-such-training-container' does not exist" in message and "DOCKER_CONTAINER_NAME" in message
        for message in errors
    ), errors


def test_it_fails_a_run_whose_container_stops_under_it_with_an_error_line(
    owner_client, docker_project, supervisor, django_capture_on_commit_callbacks, docker_settings, tmp_path_factory
):
    client = docker.DockerClient(base_url=docker_settings.DOCKER_HOST)
    base = str(tmp_path_factory.getbasetemp())
    container = client.containers.run(
        "llmp-python:bookworm",
        ["sleep", "600"],
        name=f"llmp-test-stopped-under-run-{Path(base).name}",
        detach=True,
        init=True,
        network_mode="none",
        volumes=[f"{base}:{base}:rw"],
    )
    docker_settings.DOCKER_CONTAINER_NAME = container.name
    try:
        body = {"hyperparameters": {"max_steps": 1000, "step_seconds": 0.05}}
        run_id = launch(owner_client, docker_project, body, django_capture_on_commit_callbacks)
        wait_for(lambda: detail(owner_client, docker_project, run_id)["current_step"], between=supervisor.tick)

        container.stop(timeout=1)
        failed = until_status(owner_client, docker_project, run_id, supervisor, "failed", "completed")
    finally:
        container.remove(force=True)

    errors = [line["message"] for line in failed["logs"] if line["level"] == "ERROR"]
    assert any(f"is exited, not running. Start it with `docker start {container.name}`" in m for m in errors), errors


def test_it_flags_a_trainer_hung_in_the_container_by_its_cpu_time_and_dumps_its_stacks(
    owner_client, docker_project, supervisor, django_capture_on_commit_callbacks
):
    run_id, flagged, flagged_after = hang_until_flagged(
        owner_client, docker_project, supervisor, django_capture_on_commit_callbacks, stall_after=STALL_AFTER
    )

    print(f"flagged {flagged_after:.2f} s after the last step was seen (stall_after {STALL_AFTER} s)")
    assert flagged_after <= STALL_AFTER + 5
    assert flagged["status"] == "running"
    assert "(after step 6) with its processes using " in flagged["stall_reason"]
    assert any("Stalled: " in line["message"] for line in flagged["logs"])
    dump = Path(Artifact.objects.get(run_id=run_id, name__startswith="stack-dump-").path).read_text()
    assert "--- pid " in dump, dump  # the container's processes were found on this host
    # The trainer's frames, or (where ptrace is not allowed) why py-spy could not read them.
    assert ("fake_trainer.py" in dump and "hang (" in dump) or "py-spy could not read" in dump, dump
    done = until_status(owner_client, docker_project, run_id, supervisor, "completed", "failed")
    assert (done["status"], done["stalled"]) == ("completed", False)


def test_it_does_not_flag_a_trainer_that_spins_in_the_container_without_new_steps(
    owner_client, docker_project, supervisor, django_capture_on_commit_callbacks
):
    docker_project.stall_after_seconds = STALL_AFTER
    docker_project.save(update_fields=["stall_after_seconds"])
    spin = {"hang_at_step": 4, "hang_seconds": STALL_AFTER + 6, "hang_busy": True}
    body = {"hyperparameters": {"max_steps": 8, "step_seconds": 0.02, **spin}}
    run_id = launch(owner_client, docker_project, body, django_capture_on_commit_callbacks)

    done = until_status(owner_client, docker_project, run_id, supervisor, "completed", "failed")

    assert done["status"] == "completed"
    assert not [line["message"] for line in done["logs"] if "Stalled: " in line["message"]]
    assert not Artifact.objects.filter(run_id=run_id, name__startswith="stack-dump-").exists()
