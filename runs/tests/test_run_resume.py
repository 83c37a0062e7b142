"""POST /projects/{ref}/runs/{id}/resume?source_artifact_id=ID."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from llmplatform.testing import wait_for
from runs.models import Artifact, ArtifactType, Run


def finished_run(client, project, supervisor, captured, hyperparameters):
    with captured(execute=True):
        run_id = client.post(
            f"/projects/{project.name}/runs", {"hyperparameters": hyperparameters}, format="json"
        ).json()["id"]
    wait_for(
        lambda: client.get(f"/projects/{project.name}/runs/{run_id}").json()["status"] == "completed",
        between=supervisor.tick,
    )
    return Run.objects.get(pk=run_id)


@pytest.mark.slow
def test_it_continues_from_the_chosen_checkpoint(
    member_client, project, fake_trainer, supervisor, django_capture_on_commit_callbacks
):
    source = finished_run(
        member_client, project, supervisor, django_capture_on_commit_callbacks, {"max_steps": 20, "save_steps": 10}
    )
    checkpoint = Artifact.objects.get(run=source, type=ArtifactType.CHECKPOINT, step=10)

    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(
            f"/projects/{project.name}/runs/{source.pk}/resume?source_artifact_id={checkpoint.pk}",
            {"hyperparameters": {"max_steps": 30, "save_steps": 10}},
            format="json",
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["resumed_from"] == body["resume_source_artifact_id"] == str(checkpoint.pk)
    resumed = Run.objects.get(pk=body["id"])
    assert resumed.output_dir != source.output_dir
    config = yaml.safe_load(Path(resumed.run_dir, "config.yaml").read_text())
    assert config["resume_from_checkpoint"] == checkpoint.path
    assert config["output_dir"] == resumed.output_dir
    assert config["max_steps"] == 30
    wait_for(
        lambda: member_client.get(f"/projects/{project.name}/runs/{resumed.pk}").json()["status"] == "completed",
        between=supervisor.tick,
    )
    logs = member_client.get(f"/projects/{project.name}/runs/{resumed.pk}/logs?q=global step").json()["items"]
    assert any("Continuing training from global step 10" in line["message"] for line in logs)
    checkpoints = Artifact.objects.filter(run=resumed, type=ArtifactType.CHECKPOINT).order_by("step")
    assert list(checkpoints.values_list("step", flat=True)) == [20, 30]  # it went on from 10, not from 0


def make_artifact(project, tmp_path, **fields):
    run = Run.objects.create(project=project, status="completed")
    folder = tmp_path / "ckpt"
    folder.mkdir(exist_ok=True)
    return Artifact.objects.create(run=run, **{"name": "checkpoint-5", "path": str(folder), "step": 5, **fields})


def test_it_refuses_an_artifact_that_is_not_a_checkpoint(owner_client, project, tmp_path):
    config = make_artifact(project, tmp_path, type=ArtifactType.CONFIG)

    response = owner_client.post(f"/projects/{project.name}/runs/{config.run_id}/resume?source_artifact_id={config.pk}")

    assert response.status_code == 400
    assert "not a checkpoint" in response.json()["detail"]
    assert Run.objects.count() == 1


def test_it_refuses_a_checkpoint_of_another_project(owner_client, owner, project, tmp_path):
    from projects.services import create_project

    other = create_project(actor=owner, fields={"name": "other"})
    foreign = make_artifact(other, tmp_path, type=ArtifactType.CHECKPOINT)
    run = Run.objects.create(project=project)

    response = owner_client.post(f"/projects/{project.name}/runs/{run.pk}/resume?source_artifact_id={foreign.pk}")

    assert response.status_code == 400


@pytest.mark.parametrize("query", ["", "?source_artifact_id=", "?source_artifact_id=not-a-uuid"])
def test_it_refuses_a_missing_or_malformed_source(owner_client, project, query):
    run = Run.objects.create(project=project)

    response = owner_client.post(f"/projects/{project.name}/runs/{run.pk}/resume{query}")

    assert response.status_code == 400
    assert "source_artifact_id" in response.json()["detail"]


def test_it_refuses_a_checkpoint_whose_folder_is_gone(owner_client, project, tmp_path):
    checkpoint = make_artifact(project, tmp_path, type=ArtifactType.CHECKPOINT)
    shutil.rmtree(checkpoint.path)

    response = owner_client.post(
        f"/projects/{project.name}/runs/{checkpoint.run_id}/resume?source_artifact_id={checkpoint.pk}"
    )

    assert response.status_code == 400
    assert "no longer on disk" in response.json()["detail"]
