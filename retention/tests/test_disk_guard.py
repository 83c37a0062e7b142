"""The disk guard: a launch or resume is refused with 409 and the figures when the disk cannot take its checkpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from django.conf import settings

from notifications.services import create_subscription
from notifications.tests.receiver import receiver
from runs.models import Run, RunStatus

RUNS = "/projects/qwen-finetune/runs"


def finished(project, name: str) -> Run:
    return Run.objects.create(
        project=project,
        name=name,
        status=RunStatus.COMPLETED,
        dataset=project.dataset_name,
        training_yaml_name=project.training_yaml_name,
    )


def previous_run(project, tmp_path, size: int) -> Run:
    run = finished(project, "earlier")
    folder = tmp_path / "earlier" / "checkpoint-10"
    folder.mkdir(parents=True)
    run.artifacts.create(name="checkpoint-10", type="checkpoint", path=str(folder), size_bytes=size, step=10)
    return run


def test_it_launches_when_the_disk_can_take_what_earlier_runs_wrote(owner_client, project, tmp_path):
    previous_run(project, tmp_path, size=1024)
    assert owner_client.post(RUNS, {}, format="json").status_code == 201


def test_it_refuses_a_launch_the_disk_cannot_take_with_the_figures(
    owner, owner_client, project, tmp_path, django_capture_on_commit_callbacks
):
    free = shutil.disk_usage(settings.RUNS_DIR).free
    previous_run(project, tmp_path, size=free * 2)
    with receiver() as hook:
        create_subscription(project=project, actor=owner, url=hook.url, events=["disk.low"])
        with django_capture_on_commit_callbacks(execute=True):
            response = owner_client.post(RUNS, {}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["needed_bytes"] == free * 2
    assert 0 < body["free_bytes"] < body["needed_bytes"]
    assert body["path"] == str(settings.RUNS_DIR)
    assert "run earlier wrote" in body["detail"]
    assert Run.objects.filter(project=project).count() == 1
    [request] = hook.requests
    assert json.loads(request.body)["data"]["needed_bytes"] == free * 2


def test_it_judges_a_resume_by_the_run_it_continues(owner_client, project, tmp_path):
    free = shutil.disk_usage(settings.RUNS_DIR).free
    big = previous_run(project, tmp_path, size=free * 2)
    small = finished(project, "small")
    folder = Path(settings.RUNS_DIR) / str(small.pk) / "output" / "checkpoint-5"
    folder.mkdir(parents=True)
    small_checkpoint = small.artifacts.create(name="checkpoint-5", type="checkpoint", path=str(folder), size_bytes=1)
    big_checkpoint = big.artifacts.get()

    refused = owner_client.post(f"{RUNS}/{big.pk}/resume?source_artifact_id={big_checkpoint.pk}", {}, format="json")
    resumed = owner_client.post(f"{RUNS}/{small.pk}/resume?source_artifact_id={small_checkpoint.pk}", {}, format="json")

    assert refused.status_code == 409, refused.json()
    assert resumed.status_code == 201, resumed.json()
