"""POST /projects/{ref}/runs: from the request to a trainer process and back."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from gpus.models import GpuClaim
from llmplatform.testing import wait_for
from runs.models import Artifact, Run


def launch(client, project, body=None, capture=None):
    response = client.post(f"/projects/{project.name}/runs", body or {}, format="json")
    return response


def run_detail(client, project, run_id):
    response = client.get(f"/projects/{project.name}/runs/{run_id}")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.slow
def test_it_launches_the_trainer_and_sees_it_complete(
    member_client, project, fake_trainer, supervisor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = launch(member_client, project, {"name": "run-001", "hyperparameters": {"max_steps": 12}})

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "queued"  # the dispatch task starts it once the run is committed
    body = run_detail(member_client, project, response.json()["id"])
    assert body["status"] == "running"
    assert body["progress"] == pytest.approx(0.05)
    assert body["name"] == "run-001"
    assert body["started_at"] is not None
    assert any("Training started" in line["message"] for line in body["logs"])
    assert body["start_command"].startswith(sys.executable)

    done = wait_for(
        lambda: (detail := run_detail(member_client, project, body["id"]))["status"] == "completed" and detail,
        between=supervisor.tick,
    )
    assert done["progress"] == 1.0
    assert done["completed_at"] is not None
    assert done["exit_code"] == 0
    logs = member_client.get(f"/projects/{project.name}/runs/{body['id']}/logs?page_size=500").json()
    assert logs["total"] == len(logs["items"]) > 3
    assert [item["seq"] for item in logs["items"]] == list(range(1, logs["total"] + 1))


def test_it_writes_the_effective_config_and_hands_it_to_the_command(owner_client, project, fake_trainer, training_dir):
    response = launch(owner_client, project, {"hyperparameters": {"learning_rate": 1e-4, "max_steps": 3}})

    run = Run.objects.get(pk=response.json()["id"])
    config_path = Path(run.run_dir) / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    assert config == {
        "dataset": project.dataset_name,
        "max_steps": 3,
        "save_steps": 10,
        "step_seconds": 0.01,
        "learning_rate": 1e-4,
        "output_dir": run.output_dir,
    }
    assert run.output_dir == str(Path(run.run_dir) / "output")
    assert run.argv[-1] == str(config_path)
    assert Artifact.objects.filter(run=run, type="config", path=str(config_path)).exists()
    assert response.json()["status"] == "queued"  # dispatch waits for the commit


def test_it_substitutes_placeholders_inside_single_arguments(owner_client, project, settings):
    settings.TRAINING_COMMAND = "bash 'my script.sh' --config={training_yaml} --out {output_dir} {run_id}"

    run = Run.objects.get(pk=launch(owner_client, project).json()["id"])

    assert run.argv == [
        "bash",
        "my script.sh",
        f"--config={run.run_dir}/config.yaml",
        "--out",
        run.output_dir,
        str(run.pk),
    ]


def test_it_gives_each_run_its_own_output_folder(owner_client, project, fake_trainer):
    first = Run.objects.get(pk=launch(owner_client, project).json()["id"])
    second = Run.objects.get(pk=launch(owner_client, project).json()["id"])

    assert first.output_dir != second.output_dir
    assert first.name == "run-001" and second.name == "run-002"


def test_it_warns_when_the_yaml_names_another_dataset(
    owner_client, project, fake_trainer, training_dir, django_capture_on_commit_callbacks
):
    (training_dir / "configs" / "other.yaml").write_text("dataset: something_else\nmax_steps: 2\n")

    with django_capture_on_commit_callbacks(execute=True):
        response = launch(owner_client, project, {"training_yaml_name": "configs/other.yaml"})

    logs = run_detail(owner_client, project, response.json()["id"])["logs"]
    warnings = [line["message"] for line in logs if line["level"] == "WARNING"]
    assert len(warnings) == 1
    assert "something_else" in warnings[0] and project.dataset_name in warnings[0]


def test_it_fails_a_run_whose_command_cannot_start_saying_so_before_it_ever_runs(
    owner_client, project, settings, django_capture_on_commit_callbacks
):
    settings.TRAINING_COMMAND = "/no/such/trainer {training_yaml}"

    with django_capture_on_commit_callbacks(execute=True):
        response = launch(owner_client, project)

    failed = run_detail(owner_client, project, response.json()["id"])
    assert failed["status"] == "failed"
    [line] = failed["logs"]  # no "Training started" first
    assert line["level"] == "ERROR"
    assert line["message"].endswith("The training command could not start: command not found: /no/such/trainer")


def test_a_program_gone_when_the_wrapper_runs_it_fails_the_run_with_that_reason(
    owner_client, project, settings, supervisor, django_capture_on_commit_callbacks, monkeypatch
):
    # Where the executor cannot look first (a Slurm node), the wrapper finds the program missing.
    monkeypatch.setattr("runs.executors.local.program_problem", lambda *args, **kwargs: None)
    settings.TRAINING_COMMAND = "/no/such/trainer {training_yaml}"

    with django_capture_on_commit_callbacks(execute=True):
        response = launch(owner_client, project)

    run_id = response.json()["id"]
    failed = wait_for(
        lambda: (detail := run_detail(owner_client, project, run_id))["status"] == "failed" and detail,
        between=supervisor.tick,
    )
    assert failed["exit_code"] == 127
    errors = [line["message"] for line in failed["logs"] if line["level"] == "ERROR"]
    assert errors[0] == "ERROR: command not found: /no/such/trainer"
    assert errors[-1].endswith("Training failed: command not found: /no/such/trainer (exit code 127).")
    assert not any("exit_code" in line["message"] for line in failed["logs"]), "no wrapper internals"


def test_it_claims_gpus_of_the_type_asked_for_and_sets_cuda_visible_devices(
    owner_client, project, settings, training_dir, supervisor, django_capture_on_commit_callbacks
):
    settings.GPU_IDS = "0:NVIDIA L4,1:NVIDIA A100-SXM4-80GB,2:NVIDIA L4,3:NVIDIA A100-SXM4-80GB"
    settings.TRAINING_COMMAND = "sh -c 'echo GPUS=$CUDA_VISIBLE_DEVICES RUN=$LLMP_RUN_ID OUT=$LLMP_OUTPUT_DIR'"

    with django_capture_on_commit_callbacks(execute=True):
        response = launch(owner_client, project, {"resources": {"gpu_count": 2, "gpu_type": "A100"}})

    run_id = response.json()["id"]
    started = run_detail(owner_client, project, run_id)
    assert started["status"] == "running"
    assert sorted(started["gpu_indices"]) == [1, 3]
    assert sorted(GpuClaim.objects.filter(holder_id=run_id).values_list("gpu_index", flat=True)) == [1, 3]
    done = wait_for(
        lambda: (detail := run_detail(owner_client, project, run_id))["status"] == "completed" and detail,
        between=supervisor.tick,
    )
    gpus = ",".join(map(str, done["gpu_indices"]))
    assert any(f"GPUS={gpus} RUN={run_id} OUT={done['output_dir']}" in line["message"] for line in done["logs"])
    assert not GpuClaim.objects.exists()  # released the moment it ended


def test_it_falls_back_to_the_projects_settings_and_merges_hyperparameters(owner_client, owner, project, fake_trainer):
    owner_client.patch(
        f"/projects/{project.name}", {"default_hyperparameters": {"learning_rate": 3e-5, "max_steps": 5}}, format="json"
    )

    response = launch(owner_client, project, {"dataset": "", "hyperparameters": {"max_steps": 7}})

    body = response.json()
    assert response.status_code == 201, body
    assert body["dataset"] == project.dataset_name
    assert body["training_yaml_name"] == project.training_yaml_name
    assert body["model"] == project.base_model
    assert body["hyperparameters"] == {"learning_rate": 3e-5, "max_steps": 7}
