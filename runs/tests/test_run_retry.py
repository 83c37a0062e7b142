"""A failed run is retried from its last good checkpoint (runs.healing), as a new run linked to it."""

from __future__ import annotations

import signal
import uuid

import pytest
from django.utils import timezone

from gpus.models import GpuClaim
from llmplatform import supervision
from llmplatform.models import SupervisorLease
from llmplatform.testing import manage_py, running, subprocess_env, wait_for
from runs import healing, services
from runs.models import Artifact, ArtifactType, Run, RunStatus
from runs.scheduling import dispatch_queued_runs


def set_max_retries(project, count: int) -> None:
    project.max_retries = count
    project.save(update_fields=["max_retries"])


def detail(client, project, run_id) -> dict:
    return client.get(f"/projects/{project.name}/runs/{run_id}").json()


def launch(client, project, capture, hyperparameters: dict, **body) -> str:
    with capture(execute=True):
        response = client.post(
            f"/projects/{project.name}/runs", {"hyperparameters": hyperparameters, **body}, format="json"
        )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def chain(run_id: uuid.UUID | str) -> list[Run]:
    """The run and its retries, in order."""
    runs = [Run.objects.get(pk=run_id)]
    while (following := Run.objects.filter(retry_of=runs[-1]).first()) is not None:
        runs.append(following)
    return runs


@pytest.mark.slow
def test_it_resumes_a_failed_run_from_its_latest_complete_checkpoint_until_it_fails_at_the_same_step_twice(
    owner_client, project, fake_trainer, supervisor, django_capture_on_commit_callbacks
):
    set_max_retries(project, 3)
    first = launch(
        owner_client,
        project,
        django_capture_on_commit_callbacks,
        {"max_steps": 40, "save_steps": 10, "fail_at_step": 25, "step_seconds": 0.01},
    )

    def both_decided() -> list[Run] | None:
        runs = chain(first)
        done = len(runs) == 2 and all(run.status == RunStatus.FAILED and not run.retry_due for run in runs)
        return runs if done else None

    failed, retry = wait_for(both_decided, between=supervisor.tick, timeout=60, what="a retry that fails too")

    checkpoint = Artifact.objects.get(run=failed, type=ArtifactType.CHECKPOINT, step=20)
    shown = detail(owner_client, project, failed.pk)
    assert shown["status"] == "failed"
    assert shown["retried_by_id"] == str(retry.pk)
    assert shown["retry_reason"] == f"retried as run {retry.name} (attempt 2) from checkpoint-20"
    again = detail(owner_client, project, retry.pk)
    assert (again["retry_of_id"], again["attempt"], again["resume_source_artifact_id"]) == (
        str(failed.pk),
        2,
        str(checkpoint.pk),
    )
    assert (again["hyperparameters"], again["dataset"]) == (shown["hyperparameters"], shown["dataset"])
    assert retry.name == f"{failed.name}-attempt-2"
    logs = owner_client.get(f"/projects/{project.name}/runs/{retry.pk}/logs?q=global step").json()["items"]
    assert any("Continuing training from global step 20" in line["message"] for line in logs)
    # The retry failed where the first attempt did: retrying again would only fail again.
    assert again["retry_reason"] == f"not retried: it failed at step {failed.current_step} twice in a row"
    assert again["retried_by_id"] is None


def failed_run(project, owner, *, attempt: int = 1, retry_of: Run | None = None, step: int | None = 7) -> Run:
    """A run that failed while running (as the supervisor records it), without a process."""
    run = services.create_run(project=project, actor=owner)
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED,
        started_at=timezone.now(),
        completed_at=timezone.now(),
        exit_code=1,
        retry_due=True,
        attempt=attempt,
        retry_of=retry_of,
        current_step=step,
    )
    return Run.objects.select_related("project", "retry_of", "resume_source_artifact").get(pk=run.pk)


def test_it_makes_one_retry_of_a_failure_however_many_supervisors_decide_it(project, owner):
    set_max_retries(project, 2)
    failed = failed_run(project, owner)
    seen_by_another = Run.objects.select_related("project", "retry_of").get(pk=failed.pk)  # loaded at the same time

    retry = healing.retry_run(failed)

    assert retry is not None and healing.retry_run(seen_by_another) is None
    assert healing.retry_due_runs() == []
    assert list(Run.objects.filter(retry_of=failed).values_list("pk", flat=True)) == [retry.pk]
    assert (retry.status, retry.attempt, retry.resume_source_artifact_id) == (RunStatus.QUEUED, 2, None)
    failed.refresh_from_db()
    assert failed.retry_reason == f"retried as run {retry.name} (attempt 2) from the start (no complete checkpoint)"


def test_it_stops_retrying_once_max_retries_are_used_up(project, owner):
    set_max_retries(project, 1)
    first = failed_run(project, owner, step=3)
    Run.objects.filter(pk=first.pk).update(retry_due=False)
    second = failed_run(project, owner, attempt=2, retry_of=first, step=9)

    assert healing.retry_due_runs() == []

    second.refresh_from_db()
    assert (second.retry_due, second.retry_reason) == (False, "not retried: its project's max_retries (1) is used up")
    assert any("did not retry" in line.message for line in second.log_lines.all())


def test_it_does_not_retry_a_run_of_a_project_without_retries(project, owner, settings, training_dir, supervisor):
    settings.TRAINING_COMMAND = "sh -c 'exit 4'"
    run = services.create_run(project=project, actor=owner)
    dispatch_queued_runs()

    wait_for(lambda: Run.objects.get(pk=run.pk).status == RunStatus.FAILED, between=supervisor.tick)

    run.refresh_from_db()
    assert (run.retry_due, run.retry_reason) == (False, "")
    assert not Run.objects.filter(retry_of=run).exists()


def test_it_says_why_a_failure_was_not_retried_when_the_run_cannot_be_launched_again(project, owner):
    set_max_retries(project, 1)
    failed = failed_run(project, owner)
    project.status = "archived"
    project.save(update_fields=["status"])
    failed.refresh_from_db()

    assert healing.retry_run(failed) is None

    failed.refresh_from_db()
    assert failed.retry_due is False
    assert failed.retry_reason.startswith("not retried: Project 'qwen-finetune' is archived")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_retries_each_failure_once_while_supervisors_are_killed_and_restarted(
    project, fake_trainer, settings, isolated_dirs
):
    """Two supervisors race; the one holding the failing run is killed with SIGKILL; a new one takes over."""
    settings.GPU_IDS = "0"
    set_max_retries(project, 2)
    env = subprocess_env(
        TRAINING_COMMAND=settings.TRAINING_COMMAND,
        GPU_IDS="0",
        SUPERVISOR_INTERVAL_SECONDS="0.1",
        CANCEL_GRACE_SECONDS="2",
        LLMP_HOSTNAME=settings.HOSTNAME,
    )
    run = services.create_run(
        project=project,
        actor=None,
        resources={"gpu_count": 1},
        hyperparameters={"max_steps": 60, "save_steps": 10, "step_seconds": 0.02, "fail_at_step": 15},
    )
    first_log, second_log = isolated_dirs / "first.log", isolated_dirs / "second.log"
    with (
        running(manage_py("supervise", "runs"), env=env, log=first_log) as first,
        running(manage_py("supervise", "runs"), env=env, log=second_log) as second,
    ):
        wait_for(lambda: Run.objects.get(pk=run.pk).status == RunStatus.FAILED, timeout=60, what="the first failure")
        loop = SupervisorLease.objects.get(name=supervision.lease_name("runs")).lease_owner
        (first if f"/{first.pid}/" in loop else second).send_signal(signal.SIGKILL)
        with running(manage_py("supervise", "runs"), env=env, log=isolated_dirs / "third.log"):
            runs: list[Run] = wait_for(
                lambda: found if len(found := chain(run.pk)) == 2 and found[-1].retry_reason else None,
                timeout=60,
                what="the retry to fail and be judged",
            )
    # The retry failed at step 15 again (it resumed from checkpoint-10): no third attempt.
    assert [item.attempt for item in runs] == [1, 2]
    assert Run.objects.count() == 2
    assert runs[1].retry_reason.startswith("not retried: it failed at step")
    for item in runs:
        starts = [line for line in item.log_lines.values_list("message", flat=True) if "Training started" in line]
        assert len(starts) == 1, starts  # started once
        assert item.gpu_indices == [0]
    assert not GpuClaim.objects.exists()
