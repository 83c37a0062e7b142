"""Two GPU hosts on one database: each supervises its own local runs; Slurm runs go to whichever host is alive.

Two `manage.py supervise runs` processes (the loops a qcluster runs) with their own
LLMP_HOSTNAME share the test database. Host A launches a local run and a Slurm run, then
dies (`kill -9`). Host B must leave the local run alone (its trainer keeps running,
unwatched, until A comes back) and take the Slurm run over once A's lease lapses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from llmplatform.models import SupervisorLease
from llmplatform.processes import ProcessIdentity, is_running
from llmplatform.testing import manage_py, running, subprocess_env, wait_for
from projects.models import Project
from runs import services
from runs.models import Run, RunStatus
from runs.scheduling import dispatch_queued_runs

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

LEASE_SECONDS = "2"


def host(name: str) -> dict[str, str]:
    return subprocess_env(LLMP_HOSTNAME=name, SUPERVISOR_LEASE_SECONDS=LEASE_SECONDS, SUPERVISOR_INTERVAL_SECONDS="0.2")


def lease_host(run: Run) -> str:
    run.refresh_from_db()
    return run.lease_owner.split("/", 1)[0]


def slurm_project(project: Project) -> Project:
    return Project.objects.create(
        name="on-slurm",
        executor="slurm",
        created_by=project.created_by,
        dataset_name=project.dataset_name,
        training_yaml_name=project.training_yaml_name,
    )


def test_any_hosts_dispatch_starts_a_slurm_run_another_host_launched(
    project, owner, fake_trainer, slurm_cluster, settings
):
    settings.HOSTNAME = "gpu-a"
    run = services.create_run(project=slurm_project(project), actor=owner, hyperparameters={"max_steps": 1})

    settings.HOSTNAME = "gpu-b"
    assert dispatch_queued_runs() == [run]

    run.refresh_from_db()
    subprocess.run(["scancel", str(run.executor_state["job_id"])], check=False)
    assert run.host == "gpu-b"


def test_a_dead_hosts_local_run_stays_put_while_its_slurm_run_moves(
    transactional_db, project, owner, fake_trainer, slurm_cluster, tmp_path, settings
):
    settings.HOSTNAME = "gpu-a"  # this test launches its runs as host A's web server would
    slurm = slurm_project(project)
    endless = {"max_steps": 100000, "step_seconds": 0.05, "save_steps": 0}
    with running(manage_py("supervise", "runs"), env=host("gpu-a"), log=tmp_path / "a.log") as host_a:
        local = services.create_run(project=project, actor=owner, hyperparameters=endless)
        on_slurm = services.create_run(project=slurm, actor=owner, hyperparameters=endless)
        wait_for(
            lambda: (
                all(Run.objects.get(pk=run.pk).status == RunStatus.RUNNING for run in (local, on_slurm))
                and lease_host(on_slurm) == "gpu-a"
            ),
            timeout=60,
            what="host A to start both runs",
        )
        local.refresh_from_db()
        assert local.host == "gpu-a"
        trainer = ProcessIdentity.from_dict(local.executor_state)
        with running(manage_py("supervise", "runs"), env=host("gpu-b"), log=tmp_path / "b.log"):
            wait_for(lambda: SupervisorLease.named("runs@gpu-b").lease_owner, timeout=60, what="host B's loop to run")
            os.killpg(host_a.pid, signal.SIGKILL)  # host A dies; its trainer lives in a session of its own
            host_a.wait(10)
            killed_at = time.monotonic()
            wait_for(lambda: lease_host(on_slurm) == "gpu-b", timeout=10, what="host B to take the Slurm run over")
            moved_after = time.monotonic() - killed_at
            # B has now ticked for longer than A's lease: the local run is still A's, untouched and running.
            local.refresh_from_db()
            assert local.status == RunStatus.RUNNING
            assert lease_host(local) == "gpu-a"
            assert is_running(trainer)
            assert Run.objects.get(pk=on_slurm.pk).status == RunStatus.RUNNING
    subprocess.run(["scancel", str(Run.objects.get(pk=on_slurm.pk).executor_state["job_id"])], check=False)
    assert moved_after < 5
