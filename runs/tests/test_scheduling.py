"""runs.scheduling: priority then FIFO, GPUs claimed at launch and released at the end."""

from __future__ import annotations

import pytest

from gpus.models import GpuClaim
from llmplatform.testing import wait_for
from runs import services
from runs.models import Run, RunStatus
from runs.scheduling import dispatch_queued_runs


@pytest.fixture
def sleeper(settings, training_dir):
    settings.TRAINING_COMMAND = "sleep 60"
    settings.CANCEL_GRACE_SECONDS = 2.0
    settings.GPU_IDS = "0,1"


def queue(project, owner, *, gpus=0, priority=0, name=""):
    return services.create_run(
        project=project, actor=owner, name=name, priority=priority, resources={"gpu_count": gpus} if gpus else {}
    )


def status_of(run: Run) -> str:
    run.refresh_from_db()
    return run.status


def test_it_starts_higher_priority_first_then_first_come_first_served(project, owner, sleeper):
    project.max_priority = 5  # as staff allow it
    project.save(update_fields=["max_priority"])
    early = queue(project, owner, gpus=2, name="early")
    late = queue(project, owner, gpus=2, name="late")
    urgent = queue(project, owner, gpus=2, priority=5, name="urgent")

    assert [run.name for run in dispatch_queued_runs()] == ["urgent"]
    early.refresh_from_db()
    assert early.queue_reason == "waiting for 2 GPU(s), 0 free of 2"
    late.refresh_from_db()
    assert late.queue_reason == "waiting for GPUs behind run early"
    assert sorted(GpuClaim.objects.filter(holder_id=str(urgent.pk)).values_list("gpu_index", flat=True)) == [0, 1]

    services.cancel_run(run=Run.objects.get(pk=urgent.pk), actor=owner)
    assert not GpuClaim.objects.exists()  # released the moment it was cancelled

    assert [run.name for run in dispatch_queued_runs()] == ["early"]
    assert status_of(late) == RunStatus.QUEUED


def test_it_starts_runs_without_gpus_while_gpu_runs_wait(project, owner, sleeper):
    queue(project, owner, gpus=1, name="first")
    big = queue(project, owner, gpus=2, name="big")
    small = queue(project, owner, name="cpu-only")

    assert [run.name for run in dispatch_queued_runs()] == ["first", "cpu-only"]
    assert status_of(big) == RunStatus.QUEUED
    assert status_of(small) == RunStatus.RUNNING


def test_it_releases_gpus_when_a_run_fails(project, owner, settings, training_dir, supervisor):
    settings.GPU_IDS = "0"
    settings.TRAINING_COMMAND = "sh -c 'exit 4'"
    run = queue(project, owner, gpus=1)

    dispatch_queued_runs()
    assert GpuClaim.objects.filter(holder_id=str(run.pk)).exists()
    wait_for(lambda: status_of(run) == RunStatus.FAILED, between=supervisor.tick)

    assert run.exit_code == 4
    assert not GpuClaim.objects.exists()


def test_it_never_launches_one_run_twice(project, owner, sleeper):
    run = queue(project, owner)

    assert len(dispatch_queued_runs()) == 1
    assert dispatch_queued_runs() == []
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING
