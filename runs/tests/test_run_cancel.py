"""POST /projects/{ref}/runs/{id}/cancel with real trainer processes (the stand-in trainer)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db.models import Q

from gpus.models import GpuClaim
from llmplatform import leases
from llmplatform.processes import group_members
from llmplatform.testing import wait_for
from runs import services
from runs.models import Run, RunStatus
from runs.scheduling import dispatch_queued_runs
from runs.supervisor import RunSupervisor

LONG = {"max_steps": 100000, "step_seconds": 0.02, "save_steps": 5}


def start(client, project, captured, hyperparameters, **body):
    with captured(execute=True):
        response = client.post(
            f"/projects/{project.name}/runs", {"hyperparameters": hyperparameters, **body}, format="json"
        )
    assert response.status_code == 201, response.content
    return Run.objects.get(pk=response.json()["id"])


def checkpoints(client, project, run):
    items = client.get(f"/projects/{project.name}/runs/{run.pk}/artifacts").json()["items"]
    return [item for item in items if item["type"] == "checkpoint"]


def worker_pid(run: Run) -> int:
    return int((Path(run.output_dir) / "worker.pid").read_text())


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in {"Z", "X"}


@pytest.mark.slow
def test_it_stops_the_whole_group_and_shows_the_latest_checkpoint(
    member_client, project, fake_trainer, supervisor, settings, django_capture_on_commit_callbacks
):
    settings.GPU_IDS = "0"
    run = start(member_client, project, django_capture_on_commit_callbacks, LONG, resources={"gpu_count": 1})
    wait_for(lambda: checkpoints(member_client, project, run), between=supervisor.tick)
    wait_for(lambda: (Path(run.output_dir) / "worker.pid").exists())
    pgid = Run.objects.get(pk=run.pk).executor_state["pgid"]
    child = worker_pid(run)

    response = member_client.post(f"/projects/{project.name}/runs/{run.pk}/cancel")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["cancelled_at"] is not None
    assert group_members(pgid) == []
    assert not pid_alive(child)
    # The trainer saved on SIGTERM; that checkpoint is the latest one and is in the response.
    latest = body["latest_checkpoint"]
    assert latest is not None
    assert latest["id"] in {artifact["id"] for artifact in body["artifacts"]}
    steps = [item["step"] for item in checkpoints(member_client, project, run)]
    assert latest["step"] == max(steps)
    assert any("Received SIGTERM" in line["message"] for line in body["logs"])
    assert not GpuClaim.objects.exists()
    supervisor.tick()  # a supervisor lets go of a run that no longer runs
    assert Run.objects.get(pk=run.pk).lease_owner == ""


@pytest.mark.slow
def test_it_kills_a_trainer_that_ignores_sigterm_after_the_grace_period(
    owner_client, project, fake_trainer, supervisor, settings, django_capture_on_commit_callbacks
):
    settings.CANCEL_GRACE_SECONDS = 0.5
    run = start(owner_client, project, django_capture_on_commit_callbacks, {**LONG, "ignore_sigterm": True})
    wait_for(lambda: (Path(run.output_dir) / "worker.pid").exists(), between=supervisor.tick)
    pgid = Run.objects.get(pk=run.pk).executor_state["pgid"]
    child = worker_pid(run)

    response = owner_client.post(f"/projects/{project.name}/runs/{run.pk}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert group_members(pgid) == []
    assert not pid_alive(child)
    messages = [line["message"] for line in response.json()["logs"]]
    assert any("every process of the run has stopped" in message for message in messages)


def test_it_cancels_a_queued_run_without_starting_it(owner_client, project, fake_trainer):
    response = owner_client.post(f"/projects/{project.name}/runs", {}, format="json")  # dispatch never ran
    run_id = response.json()["id"]

    cancelled = owner_client.post(f"/projects/{project.name}/runs/{run_id}/cancel")

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert dispatch_queued_runs() == []
    run = Run.objects.get(pk=run_id)
    assert run.started_at is None and run.executor_state == {}
    assert not run.log_path.exists() or "Training started" not in run.log_path.read_text()


def test_it_is_harmless_to_cancel_twice(owner_client, project, fake_trainer):
    run_id = owner_client.post(f"/projects/{project.name}/runs", {}, format="json").json()["id"]

    first = owner_client.post(f"/projects/{project.name}/runs/{run_id}/cancel")
    second = owner_client.post(f"/projects/{project.name}/runs/{run_id}/cancel")

    assert first.status_code == second.status_code == 200
    assert first.json()["cancelled_at"] == second.json()["cancelled_at"]


@pytest.mark.parametrize("status", [RunStatus.COMPLETED, RunStatus.FAILED])
def test_it_refuses_to_cancel_a_finished_run_with_409(owner_client, project, status):
    run = Run.objects.create(project=project, status=status)

    response = owner_client.post(f"/projects/{project.name}/runs/{run.pk}/cancel")

    assert response.status_code == 409
    assert status in response.json()["detail"]
    assert Run.objects.get(pk=run.pk).status == status


def test_it_lets_members_cancel_but_not_outsiders(outsider_client, member_client, project):
    run = Run.objects.create(project=project)

    assert outsider_client.post(f"/projects/{project.name}/runs/{run.pk}/cancel").status_code == 404
    assert member_client.post(f"/projects/{project.name}/runs/{run.pk}/cancel").status_code == 200


def test_it_leaves_no_process_behind_when_a_run_is_cancelled_while_starting(project, fake_trainer, owner):
    """The dispatcher launched it, but a cancel won the race to the status: it stops what it started."""
    run = services.create_run(project=project, actor=owner, hyperparameters=LONG)
    owner_name = leases.owner_name("dispatch")
    assert run.take_lease(owner_name, seconds=30, where=Q(status=RunStatus.QUEUED))
    Run.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED)  # the cancel request, meanwhile

    assert services.start_run(run=run, gpu_indices=[], lease_owner=owner_name) is False

    state = run.executor_state
    assert state["pgid"] and group_members(state["pgid"]) == []
    assert Run.objects.get(pk=run.pk).status == RunStatus.CANCELLED
    assert os.path.exists(run.log_path)


def test_it_leaves_stopping_a_local_run_of_another_host_to_that_hosts_supervisor(
    owner_client, owner, project, fake_trainer, settings
):
    run = services.create_run(project=project, actor=owner, hyperparameters=LONG)
    dispatch_queued_runs()
    run.refresh_from_db()
    pgid = run.executor_state["pgid"]
    Run.objects.filter(pk=run.pk).update(host="trainer-host")  # launched by another host's worker

    response = owner_client.post(f"/projects/{project.name}/runs/{run.pk}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert group_members(pgid) != []  # this host never signals another host's pids
    assert Run.objects.get(pk=run.pk).executor_state["stop"] == {"by": "alice", "carrier": ""}

    settings.HOSTNAME = "trainer-host"
    RunSupervisor().tick()

    assert group_members(pgid) == []
    stopped = Run.objects.get(pk=run.pk)
    assert "stop" not in stopped.executor_state
    assert stopped.status == RunStatus.CANCELLED and stopped.lease_owner == ""


def test_it_finishes_a_stop_whose_carrier_died(owner, project, fake_trainer):
    from runs import services

    run = services.create_run(project=project, actor=owner, hyperparameters=LONG)
    dispatch_queued_runs()
    run.refresh_from_db()
    pgid = run.executor_state["pgid"]
    gone = f"{run.host}/999999999/1/cancel"  # no such pid: the web process died mid-cancel
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.CANCELLED, executor_state={**run.executor_state, "stop": {"by": "alice", "carrier": gone}}
    )

    RunSupervisor().tick()

    assert group_members(pgid) == []
    assert "stop" not in Run.objects.get(pk=run.pk).executor_state


@pytest.mark.slow
def test_a_cancel_without_waiting_answers_at_once_and_the_supervisor_stops_the_trainer(
    member_client, project, fake_trainer, supervisor, settings, django_capture_on_commit_callbacks
):
    settings.GPU_IDS = "0"
    settings.CANCEL_GRACE_SECONDS = 1.0
    run = start(
        member_client,
        project,
        django_capture_on_commit_callbacks,
        {**LONG, "ignore_sigterm": True},  # holds out for the whole grace period
        resources={"gpu_count": 1},
    )
    wait_for(lambda: checkpoints(member_client, project, run), between=supervisor.tick)
    pgid = Run.objects.get(pk=run.pk).executor_state["pgid"]
    url = f"/projects/{project.name}/runs/{run.pk}"

    response = member_client.post(f"{url}/cancel?wait=false")

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["cancelled_at"]) == ("running", None)
    assert body["cancel_requested_at"] is not None
    assert group_members(pgid), "nothing is stopped before the answer"
    again = member_client.post(f"{url}/cancel?wait=false")
    assert (again.status_code, again.json()["cancel_requested_at"]) == (202, body["cancel_requested_at"])

    supervisor.tick()  # SIGTERM, the grace period, SIGKILL

    done = member_client.get(url).json()
    assert done["status"] == "cancelled"
    assert group_members(pgid) == []
    assert not GpuClaim.objects.exists()
    messages = [line["message"] for line in member_client.get(f"{url}/logs", {"page_size": 500}).json()["items"]]
    assert any("Cancel requested by bob: SIGTERM next, SIGKILL 1 s after it." in message for message in messages)
    assert any("Cancelled by bob; every process of the run has stopped." in message for message in messages)
    assert "stop" not in Run.objects.get(pk=run.pk).executor_state
