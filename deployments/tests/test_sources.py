"""Deploying a run's artifact: released checkpoints and models as they are, adapters on their base model."""

from __future__ import annotations

import shlex
import uuid
from pathlib import Path

import pytest

from deployments.tests.conftest import supervise_until
from projects.models import Project
from runs.models import Artifact, ArtifactTag, Run

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def project(project) -> Project:
    """The project, its base model one under MODELS_DIR (an adapter is served on it)."""
    project.base_model = "models/tiny-llama"
    project.save(update_fields=["base_model"])
    return project


def artifact(
    project, tmp_path, *, type="checkpoint", tags=("release",), run_model="", name="checkpoint-2000"
) -> Artifact:
    run = Run.objects.create(project=project, name="run-001", model=run_model)
    path = tmp_path / "runs" / str(run.pk) / name
    path.mkdir(parents=True)
    item = Artifact.objects.create(run=run, name=name, type=type, path=str(path))
    for tag in tags:
        ArtifactTag.objects.create(artifact=item, value=tag)
    return item


def deploy(client, **body):
    return client.post("/deployments", body, format="json")


def test_it_serves_a_released_checkpoint_as_it_is(member_client, project, fake_vllm, tmp_path):
    checkpoint = artifact(project, tmp_path)

    response = deploy(member_client, artifact_id=str(checkpoint.pk))

    assert response.status_code == 201, response.json()
    info = response.json()
    assert info["artifact_id"] == str(checkpoint.pk) and info["model_path"] == checkpoint.path
    assert info["served_model_name"] == "run-001-checkpoint-2000"
    argv = shlex.split(info["vllm_cmd"])
    assert argv[argv.index("serve") + 1] == checkpoint.path
    supervise_until(info["deployment_id"], "running")


def test_it_shares_a_deployed_artifact_with_its_runs_project(
    owner_client, member_client, outsider_client, project, fake_vllm, tmp_path
):
    info = deploy(member_client, artifact_id=str(artifact(project, tmp_path).pk)).json()

    assert info["project_id"] == str(project.pk)
    assert owner_client.get(f"/deployments/{info['deployment_id']}").json()["created_by"] == "bob"
    assert owner_client.delete(f"/deployments/{info['deployment_id']}").status_code == 403  # bob's to stop
    assert outsider_client.get(f"/deployments/{info['deployment_id']}").status_code == 404
    assert outsider_client.get("/deployments").json() == []


def test_it_serves_an_adapter_through_lora_on_its_base_model(member_client, project, fake_vllm, tiny_model, tmp_path):
    adapter = artifact(project, tmp_path, type="adapter", name="adapter-final")

    info = deploy(member_client, artifact_id=str(adapter.pk), served_model_name="support-bot").json()

    argv = shlex.split(info["vllm_cmd"])
    base = str(Path(fake_vllm.MODELS_DIR, tiny_model).resolve())
    assert argv[argv.index("serve") + 1] == base
    assert argv[argv.index("--served-model-name") + 1] == "tiny-llama"
    assert argv[argv.index("--enable-lora") + 1 :][:2] == ["--lora-modules", f"support-bot={adapter.path}"]
    assert supervise_until(info["deployment_id"], "running").served_model_name == "support-bot"


def test_it_prefers_the_runs_model_as_the_adapters_base(member_client, project, fake_vllm, tmp_path, settings):
    (Path(settings.MODELS_DIR) / "other-base").mkdir()
    adapter = artifact(project, tmp_path, type="adapter", run_model="other-base")

    info = deploy(member_client, artifact_id=str(adapter.pk)).json()

    assert str(Path(settings.MODELS_DIR, "other-base").resolve()) in shlex.split(info["vllm_cmd"])


def test_it_refuses_an_artifact_that_is_not_released(member_client, project, fake_vllm, tmp_path):
    candidate = artifact(project, tmp_path, tags=("candidate",))

    response = deploy(member_client, artifact_id=str(candidate.pk))

    assert response.status_code == 409
    assert "not tagged 'release'" in response.json()["detail"]


def test_it_refuses_artifacts_that_cannot_be_served(member_client, project, fake_vllm, tmp_path):
    events = artifact(project, tmp_path, type="event", name="events")

    response = deploy(member_client, artifact_id=str(events.pk))

    assert response.status_code == 400
    assert "only checkpoints, models and adapters" in response.json()["detail"]


def test_it_refuses_an_adapter_without_a_base_model(member_client, project, fake_vllm, tmp_path):
    project.base_model = ""
    project.save()
    adapter = artifact(project, tmp_path, type="adapter")

    response = deploy(member_client, artifact_id=str(adapter.pk))

    assert response.status_code == 400
    assert "base model" in response.json()["detail"]


def test_it_hides_unknown_artifacts_and_those_of_other_teams(
    outsider_client, member_client, project, fake_vllm, tmp_path
):
    checkpoint = artifact(project, tmp_path)

    assert deploy(member_client, artifact_id=str(uuid.uuid4())).status_code == 404
    response = deploy(outsider_client, artifact_id=str(checkpoint.pk))
    assert response.status_code == 404
    assert "No artifact" in response.json()["detail"]


def test_it_refuses_both_a_path_and_an_artifact(member_client, project, fake_vllm, tiny_model, tmp_path):
    response = deploy(member_client, model_path=tiny_model, artifact_id=str(artifact(project, tmp_path).pk))

    assert response.status_code == 400
    assert "either model_path or artifact_id" in response.json()["detail"]
