"""A running run that writes no step while its processes idle is flagged stalled (runs.healing)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from llmplatform.testing import wait_for
from projects.models import OnStall
from runs import healing, services
from runs.executors import stacks
from runs.executors.local import LocalExecutor
from runs.models import Artifact, ArtifactType, Run, RunStatus
from runs.scheduling import dispatch_queued_runs

STALL_AFTER = 3


def configure(project, *, on_stall: str = OnStall.LEAVE, stall_after: int | None = STALL_AFTER) -> None:
    project.stall_after_seconds = stall_after
    project.on_stall = on_stall
    project.save(update_fields=["stall_after_seconds", "on_stall"])


def start(project, owner, **hyperparameters) -> Run:
    run = services.create_run(project=project, actor=owner, hyperparameters=hyperparameters)
    assert [started.pk for started in dispatch_queued_runs()] == [run.pk]
    return run


def fresh(run: Run) -> Run:
    return Run.objects.get(pk=run.pk)


def detail(client, project, run: Run) -> dict:
    return client.get(f"/projects/{project.name}/runs/{run.pk}").json()


@pytest.mark.slow
def test_it_flags_a_hung_trainer_within_stall_after_and_clears_the_flag_when_steps_resume(
    owner_client, project, owner, fake_trainer, supervisor
):
    configure(project)
    run = start(project, owner, max_steps=40, step_seconds=0.02, hang_at_step=6, hang_seconds=STALL_AFTER + 6)

    wait_for(lambda: fresh(run).current_step == 6, between=supervisor.tick, what="step 6")
    last_step_seen = time.monotonic()
    flagged = wait_for(lambda: detail(owner_client, project, run)["stalled"] and fresh(run), between=supervisor.tick)
    flagged_after = time.monotonic() - last_step_seen

    print(f"flagged {flagged_after:.2f} s after the last step was seen (stall_after {STALL_AFTER} s)")
    assert flagged_after <= STALL_AFTER + 5
    assert flagged.status == RunStatus.RUNNING  # a flag, not a status
    body = detail(owner_client, project, run)
    assert body["stalled_since"] is not None
    assert body["stall_reason"].startswith("no new step for ")
    assert "(after step 6) with its processes using " in body["stall_reason"]
    assert run.log_lines.filter(message__contains="Stalled: ").exists()
    dump = Artifact.objects.get(run=run, type=ArtifactType.LOG, name__startswith="stack-dump-")
    text = Path(dump.path).read_text()
    # The trainer's frames, or (where ptrace is not allowed) why py-spy could not read them.
    assert "fake_trainer.py" in text or "py-spy could not read" in text
    assert "hang (" in text or "py-spy could not read" in text

    wait_for(
        lambda: not detail(owner_client, project, run)["stalled"], between=supervisor.tick, timeout=STALL_AFTER + 20
    )
    cleared = fresh(run)
    assert (cleared.stalled_since, cleared.stall_reason) == (None, "")
    wait_for(lambda: fresh(run).status == RunStatus.COMPLETED, between=supervisor.tick, timeout=30)
    assert run.log_lines.filter(message__contains="; no longer stalled.").exists()


@pytest.mark.slow
def test_it_does_not_flag_a_trainer_that_spins_without_new_steps(
    owner_client, project, owner, fake_trainer, supervisor
):
    configure(project)
    run = start(
        project, owner, max_steps=8, step_seconds=0.02, hang_at_step=4, hang_seconds=STALL_AFTER + 6, hang_busy=True
    )

    wait_for(lambda: fresh(run).status == RunStatus.COMPLETED, between=supervisor.tick, timeout=40)

    assert not run.log_lines.filter(message__contains="Stalled: ").exists()
    assert not Artifact.objects.filter(run=run, name__startswith="stack-dump-").exists()


@pytest.mark.slow
def test_it_cancels_a_stalled_run_and_resumes_it_from_its_last_complete_checkpoint(
    owner_client, project, owner, fake_trainer, settings, supervisor
):
    settings.CANCEL_GRACE_SECONDS = 1.0
    configure(project, on_stall=OnStall.RESUME)
    run = start(project, owner, max_steps=40, step_seconds=0.02, save_steps=5, hang_at_step=12)

    resumed = wait_for(
        lambda: Run.objects.filter(retry_of=run).first(), between=supervisor.tick, timeout=30, what="a resumed run"
    )

    stalled = fresh(run)
    assert stalled.status == RunStatus.CANCELLED
    assert stalled.stall_reason.startswith("no new step for ")
    assert stalled.retry_reason == f"retried as run {resumed.name} (attempt 2) from checkpoint-10"
    assert resumed.resume_source_artifact is not None
    assert (resumed.attempt, resumed.resume_source_artifact.step) == (2, 10)
    # The resumed run hangs at the same step: it is cancelled too, and not resumed a second time.
    wait_for(lambda: fresh(resumed).retry_reason, between=supervisor.tick, timeout=30, what="the second stall judged")
    again = detail(owner_client, project, resumed)
    assert again["status"] == "cancelled"
    assert again["retry_reason"] == "not retried: it stalled at step 12 twice in a row"
    assert Run.objects.count() == 2


def test_it_waits_ten_median_steps_but_never_less_than_the_floor_by_default(project, owner, settings):
    settings.STALL_AFTER_FLOOR_SECONDS = 300
    run = services.create_run(project=project, actor=owner)

    assert healing.stall_after(run) == 300  # no step seen yet
    run.watch_state = {"step_seconds": [1.0, 2.0, 40.0]}
    assert healing.stall_after(run) == 300
    run.watch_state = {"step_seconds": [50.0, 60.0, 70.0]}
    assert healing.stall_after(run) == 600
    configure(project, stall_after=45)
    run.project.refresh_from_db()
    assert healing.stall_after(run) == 45


def test_it_lets_the_project_owner_choose_what_happens_to_a_stalled_run(owner_client, project):
    response = owner_client.patch(
        f"/projects/{project.name}",
        {"stall_after_seconds": 600, "on_stall": "cancel_and_resume", "max_retries": 2},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["stall_after_seconds"], body["on_stall"], body["max_retries"]) == (600, "cancel_and_resume", 2)


def test_it_says_in_the_stack_dump_why_py_spy_could_not_read_the_trainer(project, owner, monkeypatch, tmp_path):
    refusing = tmp_path / "py-spy"
    refusing.write_text(
        "#!/bin/sh\necho 'Permission Denied: try running again with elevated permissions' >&2\nexit 1\n"
    )
    refusing.chmod(0o755)
    monkeypatch.setattr(stacks, "py_spy", lambda: str(refusing))
    run = services.create_run(project=project, actor=owner)
    monkeypatch.setattr(LocalExecutor, "process_ids", lambda self, run: [os.getpid()])

    dump = healing.dump_stacks(run)

    text = Path(dump.path).read_text()
    assert f"--- pid {os.getpid()}: py-spy could not read it (exit 1): Permission Denied" in text
    assert (dump.type, dump.run_id) == (ArtifactType.LOG, run.pk)
