"""A queued run of a project that may preempt stops a lower-priority run holding its GPUs (runs.healing)."""

from __future__ import annotations

import signal

import pytest

from gpus.models import GpuClaim
from llmplatform import supervision
from llmplatform.models import SupervisorLease
from llmplatform.testing import manage_py, running, subprocess_env, wait_for
from projects.models import Project
from projects.services import create_project
from runs import services
from runs.models import Run, RunStatus
from runs.scheduling import dispatch_queued_runs

LONG = {"max_steps": 100000, "step_seconds": 0.02, "logging_steps": 5, "save_steps": 0}


@pytest.fixture
def urgent_project(staff, project) -> Project:
    """A project staff allow to preempt, with runs of priority up to 5."""
    return create_project(
        actor=staff,
        fields={
            "name": "urgent",
            "dataset_name": project.dataset_name,
            "training_yaml_name": project.training_yaml_name,
            "may_preempt": True,
            "max_priority": 5,
        },
    )


def queue(project, actor, *, priority: int = 0, **hyperparameters) -> Run:
    return services.create_run(
        project=project,
        actor=actor,
        priority=priority,
        resources={"gpu_count": 2},
        hyperparameters={**LONG, **hyperparameters},
    )


def fresh(run: Run) -> Run:
    return Run.objects.get(pk=run.pk)


def started_lines(run: Run) -> list[str]:
    return [line for line in fresh(run).log_lines.values_list("message", flat=True) if "Training started" in line]


def test_it_lets_only_staff_allow_a_project_to_preempt(owner_client, staff_client, project):
    refused = owner_client.patch(f"/projects/{project.name}", {"may_preempt": True}, format="json")
    allowed = staff_client.patch(f"/projects/{project.name}", {"may_preempt": True}, format="json")

    assert refused.status_code == 403
    assert "may_preempt" in refused.json()["detail"]
    assert (allowed.status_code, allowed.json()["may_preempt"]) == (200, True)


@pytest.mark.slow
def test_it_preempts_a_lower_priority_run_which_resumes_from_its_checkpoint_when_the_gpus_are_free(
    owner_client, staff_client, project, owner, staff, urgent_project, fake_trainer, settings, supervisor
):
    settings.GPU_IDS = "0,1"
    low = queue(project, owner)
    assert dispatch_queued_runs() == [low]
    wait_for(lambda: (fresh(low).current_step or 0) >= 10, between=supervisor.tick, what="low to train a while")

    urgent = queue(urgent_project, staff, priority=5)
    supervisor.tick()  # marks low, which its supervisor stops and requeues

    stopped = fresh(low)
    checkpoint = stopped.resume_source_artifact
    assert (stopped.status, stopped.preempted_by_id) == (RunStatus.QUEUED, urgent.pk)
    assert checkpoint is not None and checkpoint.run_id == low.pk and (checkpoint.step or 0) >= 10
    assert not GpuClaim.objects.filter(holder_id=str(low.pk)).exists()
    supervisor.tick()
    assert (fresh(urgent).status, sorted(fresh(urgent).gpu_indices)) == (RunStatus.RUNNING, [0, 1])
    waiting = owner_client.get(f"/projects/{project.name}/runs/{low.pk}").json()
    assert (waiting["status"], waiting["queue_position"], waiting["preempted_by_id"]) == ("queued", 1, str(urgent.pk))
    assert waiting["queue_reason"] == (
        f"preempted by a higher-priority run; resumes from {checkpoint.name}; waiting for 2 GPU(s), 0 free of 2"
    )
    assert waiting["preempted_at"] is not None

    services.cancel_run(run=fresh(urgent), actor=staff)
    resumed = wait_for(lambda: (run := fresh(low)).status == RunStatus.RUNNING and run, between=supervisor.tick)
    assert sorted(resumed.gpu_indices) == [0, 1]
    wait_for(
        lambda: resumed.log_lines.filter(message__contains=f"from global step {checkpoint.step}").exists(),
        between=supervisor.tick,
        what="the trainer to continue from its checkpoint",
    )
    assert len(started_lines(low)) == 2 and len(started_lines(urgent)) == 1
    assert resumed.attempt == 1 and not Run.objects.filter(retry_of=low).exists()  # the same run, not a retry
    services.cancel_run(run=resumed, actor=owner)


def test_it_does_not_preempt_for_a_project_staff_did_not_allow(project, owner, staff, urgent_project, settings):
    settings.GPU_IDS = "0,1"
    settings.TRAINING_COMMAND = "sleep 60"
    settings.CANCEL_GRACE_SECONDS = 1.0
    Project.objects.filter(pk=urgent_project.pk).update(may_preempt=False)
    low = queue(project, owner)
    urgent = queue(urgent_project, staff, priority=5)
    assert dispatch_queued_runs() == [urgent]
    higher = queue(urgent_project, staff, priority=5)

    assert dispatch_queued_runs() == []

    assert fresh(urgent).preempted_at is None and fresh(low).status == RunStatus.QUEUED
    assert fresh(higher).queue_reason == "waiting for 2 GPU(s), 0 free of 2"
    services.cancel_run(run=fresh(urgent), actor=staff)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_finishes_a_preemption_whose_supervisor_was_killed_and_starts_no_run_twice(
    project, owner, staff, urgent_project, fake_trainer, settings, isolated_dirs
):
    settings.GPU_IDS = "0,1"
    env = subprocess_env(
        TRAINING_COMMAND=settings.TRAINING_COMMAND,
        GPU_IDS="0,1",
        SUPERVISOR_INTERVAL_SECONDS="0.1",
        CANCEL_GRACE_SECONDS="15",
        LLMP_HOSTNAME=settings.HOSTNAME,
    )
    low = queue(project, owner, save_seconds=3)  # the save on SIGTERM takes 3 s: time to kill its supervisor
    with running(manage_py("supervise", "runs"), env=env, log=isolated_dirs / "first.log") as first:
        wait_for(lambda: (fresh(low).current_step or 0) >= 10, timeout=60, what="low to train a while")
        urgent = queue(urgent_project, staff, priority=5)
        wait_for(lambda: fresh(low).preempted_at, timeout=30, what="the preemption to begin")
        assert fresh(low).status == RunStatus.RUNNING  # still saving
        assert f"/{first.pid}/" in SupervisorLease.objects.get(name=supervision.lease_name("runs")).lease_owner
        first.send_signal(signal.SIGKILL)
        first.wait()
    with running(manage_py("supervise", "runs"), env=env, log=isolated_dirs / "second.log"):
        wait_for(lambda: fresh(urgent).status == RunStatus.RUNNING, timeout=60, what="the urgent run to start")
        stopped = fresh(low)
        assert (stopped.status, stopped.preempted_by_id) == (RunStatus.QUEUED, urgent.pk)
        checkpoint = stopped.resume_source_artifact
        assert checkpoint is not None and (checkpoint.step or 0) >= 10
        services.cancel_run(run=fresh(urgent), actor=staff)
        wait_for(
            lambda: fresh(low).log_lines.filter(message__contains=f"from global step {checkpoint.step}").exists(),
            timeout=60,
            what="low to resume from its checkpoint",
        )
        assert len(started_lines(low)) == 2 and len(started_lines(urgent)) == 1
        claims = list(GpuClaim.objects.values_list("holder_id", flat=True))
        assert sorted(claims) == [str(low.pk)] * 2
        services.cancel_run(run=fresh(low), actor=owner)
