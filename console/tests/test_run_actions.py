"""Launching, cancelling, resuming and tagging from the console, through runs.services."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from gpus.models import GpuClaim, HolderKind
from projects.services import create_project
from runs.models import Artifact, ArtifactTag, Run, RunStatus
from runs.scheduling import dispatch_queued_runs

pytestmark = pytest.mark.django_db


def test_it_launches_a_run_with_overrides_and_gpus(member_session, project, settings):
    settings.GPU_IDS = "0,1"
    response = member_session.post(
        reverse("console:run-create", args=[project.pk]),
        {"name": "try-lr", "hyperparameters": '{"learning_rate": 2e-5}', "gpu_count": 1, "priority": 0},
    )
    run = Run.objects.get(name="try-lr")
    assert response["Location"] == reverse("console:run-detail", args=[project.pk, run.pk])
    assert run.status == RunStatus.QUEUED
    assert run.resources == {"gpu_count": 1}
    assert "learning_rate: 2.0e-05" in Path(run.run_dir, "config.yaml").read_text()
    page = member_session.get(response["Location"]).content.decode()
    assert "learning_rate: 2.0e-05" in page  # the effective config is on the page


def test_it_shows_why_a_run_waits_for_gpus(owner_session, project, settings):
    settings.GPU_IDS = "0,1"
    GpuClaim.objects.create(gpu_index=0, holder_kind=HolderKind.DEPLOYMENT, holder_id="a model server")
    response = owner_session.post(reverse("console:run-create", args=[project.pk]), {"gpu_count": 2, "priority": 0})
    assert response.status_code == 302
    dispatch_queued_runs()  # what the supervisor does each tick: the run cannot get 2 GPUs while one is held

    page = owner_session.get(response["Location"]).content.decode()

    assert Run.objects.get().status == RunStatus.QUEUED
    assert "waiting for 2 GPU(s), 1 free of 2" in page


def test_it_starts_a_run_of_another_project_while_a_big_run_waits_for_gpus(
    owner_session, outsider, outsider_session, project, settings
):
    settings.GPU_IDS = "0,1"
    settings.TRAINING_COMMAND = "true"
    GpuClaim.objects.create(gpu_index=0, holder_kind=HolderKind.DEPLOYMENT, holder_id="a model server")
    other = create_project(
        actor=outsider,
        fields={
            "name": "other",
            "dataset_name": project.dataset_name,
            "training_yaml_name": project.training_yaml_name,
        },
    )
    big = owner_session.post(reverse("console:run-create", args=[project.pk]), {"gpu_count": 2, "priority": 0})
    dispatch_queued_runs()
    small = outsider_session.post(reverse("console:run-create", args=[other.pk]), {"gpu_count": 1, "priority": 0})
    dispatch_queued_runs()

    small_page = outsider_session.get(small["Location"]).content.decode()
    big_page = owner_session.get(big["Location"]).content.decode()

    assert '<span class="badge badge-running">Running</span>' in small_page
    assert '<span class="badge badge-queued">Queued</span>' in big_page
    assert "waiting for 2 GPU(s), 0 free of 2" in big_page


def test_it_shows_why_a_run_cannot_launch(owner_session, project, training_dir):
    (training_dir / project.dataset_name).unlink()
    response = owner_session.post(reverse("console:run-create", args=[project.pk]), {"gpu_count": 0, "priority": 0})
    assert response.status_code == 400
    assert "datasets/qwen_demo.jsonl" in response.content.decode()
    assert not Run.objects.exists()


def test_it_cancels_after_confirmation(owner_session, project):
    run = Run.objects.create(project=project, name="waiting")
    page = owner_session.get(reverse("console:run-detail", args=[project.pk, run.pk])).content.decode()
    assert "Yes, cancel this run" in page
    response = owner_session.post(reverse("console:run-cancel", args=[project.pk, run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED


def test_it_explains_why_a_finished_run_cannot_be_cancelled(owner_session, project):
    run = Run.objects.create(project=project, name="done", status=RunStatus.COMPLETED)
    response = owner_session.post(reverse("console:run-cancel", args=[project.pk, run.pk]), follow=True)
    assert "only queued or running runs can be cancelled" in response.content.decode()


def test_it_tags_an_artifact_with_notes(member_session, run):
    artifact = run.artifacts.get()
    url = reverse("console:artifact-tag", args=[run.project_id, run.pk, artifact.pk])
    member_session.post(url, {"tag": "release", "notes": "BLEU 33"})
    assert ArtifactTag.objects.get(artifact=artifact, value="release").notes == "BLEU 33"
    assert member_session.post(url, {"tag": "gold"}).status_code == 302
    assert not ArtifactTag.objects.filter(value="gold").exists()


def test_it_resumes_from_a_checkpoint(owner_session, run, settings):
    checkpoint_dir = Path(settings.RUNS_DIR) / str(run.pk) / "output" / "checkpoint-40"  # where the platform keeps it
    checkpoint_dir.mkdir(parents=True)
    artifact = run.artifacts.get()
    Artifact.objects.filter(pk=artifact.pk).update(path=str(checkpoint_dir))
    response = owner_session.post(
        reverse("console:run-resume", args=[run.project_id, run.pk]), {"artifact": str(artifact.pk)}
    )
    resumed = Run.objects.exclude(pk=run.pk).get()
    assert response["Location"] == reverse("console:run-detail", args=[run.project_id, resumed.pk])
    assert resumed.resume_source_artifact_id == artifact.pk


def test_it_keeps_outsiders_out_of_every_action(outsider_session, run):
    artifact = run.artifacts.get()
    for url in (
        reverse("console:run-create", args=[run.project_id]),
        reverse("console:run-cancel", args=[run.project_id, run.pk]),
        reverse("console:run-resume", args=[run.project_id, run.pk]),
        reverse("console:artifact-tag", args=[run.project_id, run.pk, artifact.pk]),
    ):
        assert outsider_session.post(url, {"tag": "release"}).status_code == 404, url
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING


def test_it_only_accepts_posts_for_actions(owner_session, run):
    assert owner_session.get(reverse("console:run-cancel", args=[run.project_id, run.pk])).status_code == 405


def test_it_cancels_a_running_run_without_waiting_and_counts_down_to_sigkill(owner_session, run, settings, tmp_path):
    settings.CANCEL_GRACE_SECONDS = 30.0
    Run.objects.filter(pk=run.pk).update(run_dir=str(tmp_path / "run"))  # where its log, and the request's line, go

    response = owner_session.post(reverse("console:run-cancel", args=[run.project_id, run.pk]), follow=True)

    page = response.content.decode()
    run.refresh_from_db()
    assert (run.status, run.cancel_requested_at is not None) == (RunStatus.RUNNING, True)
    assert "Stopping run" in page
    assert "SIGKILL in" in page and 'data-kill-at="' in page
    countdown = int(page.split("data-countdown>", 1)[1].split("<", 1)[0])
    assert 28 <= countdown <= 30
    assert "Yes, cancel this run" not in page, "no second cancel while one is under way"
    assert "Cancel requested by alice" in (tmp_path / "run" / "train.log").read_text()
