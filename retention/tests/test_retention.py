"""Checkpoint retention after a run ends: what a project's policy keeps, what it deletes, and what it never touches."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.models import AuditEvent
from deployments.models import Deployment
from llmplatform.testing import wait_for
from retention.models import RetentionPolicy
from retention.services import apply_retention
from runs import services
from runs.models import Artifact, MetricPoint, Run, RunStatus
from runs.scheduling import dispatch_queued_runs

LOSS = {10: 2.0, 20: 1.1, 30: 1.5, 40: 1.3, 50: 1.4}


@pytest.fixture
def finished_run(project, owner, tmp_path) -> Run:
    output_dir = tmp_path / "run" / "output"
    run = Run.objects.create(
        project=project, name="run-1", status=RunStatus.COMPLETED, created_by=owner, output_dir=str(output_dir)
    )
    for step, loss in LOSS.items():
        folder = output_dir / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"w" * 100)
        run.artifacts.create(name=folder.name, type="checkpoint", path=str(folder), size_bytes=100, step=step)
        MetricPoint.objects.create(run=run, name="eval/loss", step=step, value=loss)
    return run


def on_disk(run: Run) -> list[str]:
    return sorted(path.name for path in Path(run.output_dir).iterdir())


def test_it_keeps_every_checkpoint_without_a_policy(finished_run):
    assert apply_retention(finished_run) == []
    assert len(on_disk(finished_run)) == 5


def test_it_keeps_the_last_n_and_the_best_k_and_deletes_the_rest(finished_run, project):
    RetentionPolicy.objects.create(project=project, keep_last=1, keep_best=2, best_metric="eval/loss")

    deleted = apply_retention(finished_run)

    assert sorted(artifact.name for artifact in deleted) == ["checkpoint-10", "checkpoint-30"]
    assert on_disk(finished_run) == ["checkpoint-20", "checkpoint-40", "checkpoint-50"]
    assert sorted(finished_run.artifacts.values_list("name", flat=True)) == on_disk(finished_run)
    events = AuditEvent.objects.filter(verb="retention").order_by("object_repr")
    assert [event.object_repr for event in events] == ["checkpoint-10", "checkpoint-30"]
    assert events[0].changes["path"].endswith("checkpoint-10") and events[0].changes["bytes"] == 100


def test_it_ranks_by_the_highest_value_when_asked(finished_run, project):
    RetentionPolicy.objects.create(project=project, keep_last=0, keep_best=1, best_metric="eval/loss", best_is="max")
    apply_retention(finished_run)
    assert on_disk(finished_run) == ["checkpoint-10"]


def test_it_never_deletes_tagged_served_or_resumed_checkpoints(finished_run, project, owner):
    RetentionPolicy.objects.create(project=project, keep_last=0)
    checkpoints = {artifact.step: artifact for artifact in finished_run.artifacts.all()}
    services.tag_artifact(artifact=checkpoints[10], actor=owner, tag="release")
    services.tag_artifact(artifact=checkpoints[20], actor=owner, tag="candidate")
    services.tag_artifact(artifact=checkpoints[50], actor=owner, tag="archived")
    Deployment.objects.create(
        created_by=owner, model_path="m", served_model_name="m", status="running", artifact=checkpoints[30]
    )
    Run.objects.create(project=project, name="resumed", resume_source_artifact=checkpoints[40])

    deleted = apply_retention(finished_run)

    assert [artifact.name for artifact in deleted] == ["checkpoint-50"]
    assert on_disk(finished_run) == ["checkpoint-10", "checkpoint-20", "checkpoint-30", "checkpoint-40"]


def test_it_leaves_checkpoints_outside_the_runs_output_folder_alone(finished_run, project, tmp_path):
    RetentionPolicy.objects.create(project=project, keep_last=0)
    elsewhere = tmp_path / "shared" / "checkpoint-5"
    elsewhere.mkdir(parents=True)
    finished_run.artifacts.create(name="checkpoint-5", type="checkpoint", path=str(elsewhere), step=5)
    apply_retention(finished_run)
    assert elsewhere.is_dir()
    assert on_disk(finished_run) == []


def test_it_waits_for_the_run_to_end(finished_run, project):
    RetentionPolicy.objects.create(project=project, keep_last=0)
    Run.objects.filter(pk=finished_run.pk).update(status=RunStatus.RUNNING)
    finished_run.refresh_from_db()
    assert apply_retention(finished_run) == []


def test_a_worker_thins_a_real_runs_checkpoints_once_it_completes(
    project,
    owner,
    fake_trainer,
    supervisor,
    django_capture_on_commit_callbacks,
):
    RetentionPolicy.objects.create(project=project, keep_last=1)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.create_run(project=project, actor=owner)
        dispatch_queued_runs()
        wait_for(
            lambda: Run.objects.get(pk=run.pk).status == RunStatus.COMPLETED,
            between=supervisor.tick,
            timeout=60,
            what="the run to complete",
        )
    run.refresh_from_db()
    checkpoints = Artifact.objects.filter(run=run, type="checkpoint")
    assert list(checkpoints.values_list("name", flat=True)) == ["checkpoint-20"]
    assert not (Path(run.output_dir) / "checkpoint-10").exists()
    assert (Path(run.output_dir) / "checkpoint-20").is_dir()
