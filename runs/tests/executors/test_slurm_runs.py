"""Runs of a Slurm project through the API, end to end, on a real one-node cluster.

The stand-in trainer `fake_trainer.py` is submitted with sbatch; the supervisor
follows its log file (sbatch --output) and its files in the run folder, and asks
scontrol/sacct how the job is doing.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gpus.models import GpuClaim
from llmplatform.testing import wait_for
from runs.models import Artifact, Run
from runs.tests.executors.run_api import detail, hang_until_flagged, launch, until_status

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

STALL_AFTER = 6  # sstat counts whole seconds: a shorter window would not tell a busy job from an idle one


@pytest.fixture
def slurm_project(project, fake_trainer, slurm_cluster, settings):
    settings.SUPERVISOR_LEASE_SECONDS = 2.0  # a cancel waits for the lease; no loop runs beside the test
    project.executor = "slurm"
    project.save(update_fields=["executor"])
    return project


def scontrol(*argv: str) -> str:
    return subprocess.run(["scontrol", "--oneliner", "show", *argv], capture_output=True, text=True).stdout


def job_state(run_id) -> str:
    job_id = Run.objects.get(pk=run_id).executor_state["job_id"]
    return scontrol("job", job_id).split("JobState=")[1].split()[0]


def test_it_trains_as_a_slurm_job_with_live_logs_and_progress(
    member_client, slurm_project, supervisor, django_capture_on_commit_callbacks, settings
):
    settings.GPU_IDS = "0"
    body = {"hyperparameters": {"max_steps": 40, "step_seconds": 0.1}, "resources": {"gpu_count": 2}}
    run_id = launch(member_client, slurm_project, body, django_capture_on_commit_callbacks)

    assert not GpuClaim.objects.exists()  # Slurm schedules these GPUs, not the platform's ledger
    midway = wait_for(
        lambda: 0.05 < (body := detail(member_client, slurm_project, run_id))["progress"] < 1.0 and body,
        between=supervisor.tick,
    )
    assert midway["status"] == "running"
    done = until_status(member_client, slurm_project, run_id, supervisor, "completed", "failed")

    assert done["status"] == "completed", [line["message"] for line in done["logs"]]
    assert done["progress"] == 1.0
    assert {"checkpoint-10", "checkpoint-40"} <= {item["name"] for item in done["artifacts"]}
    assert job_state(run_id) == "COMPLETED"


def test_it_fails_a_run_whose_job_fails_with_the_exit_code_and_the_slurm_state(
    owner_client, slurm_project, supervisor, django_capture_on_commit_callbacks
):
    body = {"hyperparameters": {"max_steps": 20, "fail_at_step": 3, "exit_code": 3}}
    run_id = launch(owner_client, slurm_project, body, django_capture_on_commit_callbacks)

    failed = until_status(owner_client, slurm_project, run_id, supervisor, "completed", "failed")

    assert failed["status"] == "failed"
    assert failed["exit_code"] == 3
    errors = [line["message"] for line in failed["logs"] if line["level"] == "ERROR"]
    assert any("exited with code 3" in message and "FAILED, exit code 3" in message for message in errors), errors


def test_it_cancels_the_job_keeps_its_checkpoint_and_resumes_from_it(
    owner_client, slurm_project, supervisor, django_capture_on_commit_callbacks
):
    body = {"hyperparameters": {"max_steps": 1000, "step_seconds": 0.05, "save_steps": 0}}
    run_id = launch(owner_client, slurm_project, body, django_capture_on_commit_callbacks)
    wait_for(lambda: detail(owner_client, slurm_project, run_id)["current_step"], between=supervisor.tick)

    response = owner_client.post(f"/projects/{slurm_project.name}/runs/{run_id}/cancel")

    assert response.status_code == 200, response.content
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert job_state(run_id) in {"COMPLETED", "FAILED", "CANCELLED"}  # ended: the trainer saved and left on SIGTERM
    checkpoint = cancelled["latest_checkpoint"]
    assert checkpoint is not None

    with django_capture_on_commit_callbacks(execute=True):
        resumed = owner_client.post(
            f"/projects/{slurm_project.name}/runs/{run_id}/resume?source_artifact_id={checkpoint['id']}",
            {"hyperparameters": {"max_steps": checkpoint["step"] + 5, "step_seconds": 0.01}},
            format="json",
        )
    assert resumed.status_code == 201, resumed.content
    done = until_status(owner_client, slurm_project, resumed.json()["id"], supervisor, "completed", "failed")
    assert done["status"] == "completed"
    logs = owner_client.get(f"/projects/{slurm_project.name}/runs/{done['id']}/logs?q=Continuing").json()["items"]
    assert any(f"from global step {checkpoint['step']}" in item["message"] for item in logs)


def test_it_keeps_a_run_queued_while_its_job_is_pending_then_runs_it(
    owner_client, slurm_project, supervisor, django_capture_on_commit_callbacks
):
    long_job = {"hyperparameters": {"max_steps": 1000, "step_seconds": 0.05}, "resources": {"gpu_count": 2}}
    holder_id = launch(owner_client, slurm_project, long_job, django_capture_on_commit_callbacks)
    until_status(owner_client, slurm_project, holder_id, supervisor, "running")
    short_job = {"hyperparameters": {"max_steps": 5, "step_seconds": 0.01}, "resources": {"gpu_count": 2}}
    waiting_id = launch(owner_client, slurm_project, short_job, django_capture_on_commit_callbacks)

    # Both of the node's GPUs are taken: Slurm holds the job back, and the run says so.
    waiting = wait_for(
        lambda: "(Resources)" in (body := detail(owner_client, slurm_project, waiting_id))["queue_reason"] and body,
        between=supervisor.tick,
    )
    assert waiting["status"] == "queued"
    assert waiting["started_at"] is None
    assert job_state(waiting_id) == "PENDING"

    owner_client.post(f"/projects/{slurm_project.name}/runs/{holder_id}/cancel")
    done = until_status(owner_client, slurm_project, waiting_id, supervisor, "completed", "failed")

    assert done["status"] == "completed", [line["message"] for line in done["logs"]]
    assert done["started_at"] is not None
    assert done["queue_reason"] == ""


def test_it_cancels_a_run_whose_job_is_still_pending(
    owner_client, slurm_project, supervisor, django_capture_on_commit_callbacks
):
    long_job = {"hyperparameters": {"max_steps": 1000, "step_seconds": 0.05}, "resources": {"gpu_count": 2}}
    holder_id = launch(owner_client, slurm_project, long_job, django_capture_on_commit_callbacks)
    until_status(owner_client, slurm_project, holder_id, supervisor, "running")
    waiting_id = launch(owner_client, slurm_project, long_job, django_capture_on_commit_callbacks)
    wait_for(lambda: job_state(waiting_id) == "PENDING", between=supervisor.tick)

    response = owner_client.post(f"/projects/{slurm_project.name}/runs/{waiting_id}/cancel")
    owner_client.post(f"/projects/{slurm_project.name}/runs/{holder_id}/cancel")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert job_state(waiting_id) == "CANCELLED"


def test_it_asks_slurm_for_the_gpu_type_and_refuses_one_the_partition_lacks(
    owner_client, slurm_project, supervisor, django_capture_on_commit_callbacks, settings
):
    if "gpu:a100:" not in scontrol("node"):
        pytest.skip("this cluster's fake GPUs have no type: restart it (scripts/services/slurm.sh stop, then start)")
    settings.GPU_IDS = "0:NVIDIA L4"  # this host's own GPUs do not matter: the cluster's do
    body: dict[str, Any] = {
        "hyperparameters": {"max_steps": 3, "step_seconds": 0.01},
        "resources": {"gpu_count": 1, "gpu_type": "a100"},
    }
    typed = launch(owner_client, slurm_project, body, django_capture_on_commit_callbacks)
    done = until_status(owner_client, slurm_project, typed, supervisor, "completed", "failed")

    assert done["status"] == "completed", [line["message"] for line in done["logs"]]
    job_id = Run.objects.get(pk=typed).executor_state["job_id"]
    assert re.search(r"TresPerNode=gres[:/]gpu:a100:1\b", scontrol("job", job_id))

    body["resources"]["gpu_type"] = "A100"  # Slurm's types are case-sensitive: no node has this one
    refused = owner_client.post(f"/projects/{slurm_project.name}/runs", body, format="json")

    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "No node of Slurm's default partition has 1 GPU(s) of type 'A100' "
        "(Slurm matches GPU types exactly); its nodes: 1 × gpu:a100:2.",
        "max_gpu_count": 0,
    }
    assert Run.objects.count() == 1


def test_it_refuses_more_gpus_than_a_node_of_the_partition_has(owner_client, slurm_project, settings):
    if "gpu:a100:2" not in scontrol("node"):
        pytest.skip("this cluster's nodes do not have the two fake A100s scripts/services/slurm.sh gives them")
    settings.GPU_IDS = "0,1,2,3"  # this host's own GPUs do not matter: the cluster's do
    slurm_project.executor_options = {"partition": "debug"}
    slurm_project.save(update_fields=["executor_options"])

    response = owner_client.post(f"/projects/{slurm_project.name}/runs", {"resources": {"gpu_count": 3}}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "No node of Slurm partition 'debug' has 3 GPU(s) (Slurm matches GPU types exactly); its nodes: 1 × gpu:a100:2."
    )
    assert not Run.objects.exists()


def test_it_flags_a_hung_job_by_its_cpu_time_and_dumps_its_stacks_on_its_node(
    owner_client, slurm_project, supervisor, django_capture_on_commit_callbacks
):
    run_id, flagged, flagged_after = hang_until_flagged(
        owner_client, slurm_project, supervisor, django_capture_on_commit_callbacks, stall_after=STALL_AFTER
    )

    print(f"flagged {flagged_after:.2f} s after the last step was seen (stall_after {STALL_AFTER} s)")
    assert flagged_after <= STALL_AFTER + 5
    assert flagged["status"] == "running"
    assert "(after step 6) with its processes using " in flagged["stall_reason"]
    assert any("Stalled: " in line["message"] for line in flagged["logs"])
    dump = Path(Artifact.objects.get(run_id=run_id, name__startswith="stack-dump-").path).read_text()
    assert "--- pid " in dump, dump  # the batch step's Python process, found on the node
    # The trainer's frames, or (where ptrace is not allowed there) why py-spy could not read them.
    assert ("fake_trainer.py" in dump and "hang (" in dump) or "py-spy could not read" in dump, dump
    done = until_status(owner_client, slurm_project, run_id, supervisor, "completed", "failed")
    assert (done["status"], done["stalled"]) == ("completed", False)


def test_it_does_not_flag_a_job_that_spins_without_new_steps(
    owner_client, slurm_project, supervisor, django_capture_on_commit_callbacks
):
    slurm_project.stall_after_seconds = STALL_AFTER
    slurm_project.save(update_fields=["stall_after_seconds"])
    spin = {"hang_at_step": 4, "hang_seconds": STALL_AFTER + 6, "hang_busy": True}
    body = {"hyperparameters": {"max_steps": 8, "step_seconds": 0.02, **spin}}
    run_id = launch(owner_client, slurm_project, body, django_capture_on_commit_callbacks)

    done = until_status(owner_client, slurm_project, run_id, supervisor, "completed", "failed")

    assert done["status"] == "completed"
    assert not [line["message"] for line in done["logs"] if "Stalled: " in line["message"]]
    assert not Artifact.objects.filter(run_id=run_id, name__startswith="stack-dump-").exists()
