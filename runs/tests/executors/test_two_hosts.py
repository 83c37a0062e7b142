"""Two GPU hosts on one database: each supervises its own local runs; Slurm runs go to whichever host is alive.

Each host (its own LLMP_HOSTNAME) runs the supervision loops, as `manage.py supervise` or
as a real `manage.py qcluster` on a Redis broker both hosts share. Host A launches a local
run and a Slurm run, then dies (`kill -9`). Host B must leave the local run alone (its
trainer keeps running, unwatched, until A comes back) and take the Slurm run over once
A's lease lapses.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from llmplatform.models import SupervisorLease
from llmplatform.processes import ProcessIdentity, is_running
from llmplatform.testing import manage_py, running, subprocess_env, wait_for
from projects.models import Project
from runs import services
from runs.models import Run, RunStatus
from runs.scheduling import dispatch_queued_runs
from runs.tests.fixtures import fake_trainer_command
from tests.probes import last_json_line

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

LEASE_SECONDS = "2"
ENDLESS = {"max_steps": 100000, "step_seconds": 0.05, "save_steps": 0}


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


LAUNCH = """
import json
from django.contrib.auth.models import User
from projects.models import Project
from runs import services
project = Project.objects.get(name={project!r})
actor = User.objects.get(username={user!r})
run = services.create_run(project=project, actor=actor, hyperparameters={hyperparameters!r})
print(json.dumps(str(run.pk)))
"""


SCRAPE = """
import json
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
response = Client(HTTP_HOST="127.0.0.1").get("/metrics", HTTP_AUTHORIZATION="Bearer scrape")
families = text_string_to_metric_families(response.content.decode())
print(json.dumps({sample.name: sample.value for family in families for sample in family.samples if not sample.labels}))
"""


@pytest.fixture
def on_postgresql(transactional_db) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("hosts share one PostgreSQL database; an SQLite file cannot be shared between hosts")


def launched_on(env: dict[str, str], project: Project, *, by: User) -> Run:
    """A run launched by a host's web server: a platform process with the host's settings, its tasks on Redis."""
    code = LAUNCH.format(project=project.name, user=by.username, hyperparameters=ENDLESS)
    return Run.objects.get(pk=last_json_line(code, env))


def loops_holding(lease: str) -> Callable[[], int]:
    """How many loops have been seen holding `lease` since this was made: each handover brings a new one."""
    owners: set[str] = set()

    def count() -> int:
        if owner := SupervisorLease.named(lease).lease_owner:
            owners.add(owner)
        return len(owners)

    return count


def test_two_hosts_qclusters_keep_their_own_local_runs_when_one_dies_and_the_slurm_run_moves(
    on_postgresql, project, owner, fake_trainer, slurm_cluster, redis_url, training_dir, tmp_path
):
    def qcluster_host(name: str, *, slice_seconds: str) -> dict[str, str]:
        own_training_dir = tmp_path / f"{name}-training"
        shutil.copytree(training_dir, own_training_dir)
        return host(name) | {
            "REDIS_URL": redis_url,
            "HOST_TRAINING_DIR": str(own_training_dir),
            "TRAINING_COMMAND": fake_trainer_command(),
            "Q_WORKERS": "2",
            "SUPERVISOR_TASK_SECONDS": slice_seconds,
        }

    # A's loop hands over every second, B's keeps its slice: a successor of A's loop that a worker of B
    # took would find B's loop live and end, and nothing would queue A's loop again.
    env_a, env_b = qcluster_host("gpu-a", slice_seconds="1"), qcluster_host("gpu-b", slice_seconds="60")
    slurm = slurm_project(project)
    with running(manage_py("qcluster"), env=env_a, log=tmp_path / "a.log") as host_a:
        local_a = launched_on(env_a, project, by=owner)
        on_slurm = launched_on(env_a, slurm, by=owner)
        wait_for(
            lambda: (
                all(Run.objects.get(pk=run.pk).status == RunStatus.RUNNING for run in (local_a, on_slurm))
                and lease_host(on_slurm) == "gpu-a"
            ),
            timeout=120,
            what="host A's qcluster to start both runs",
        )
        trainer_a = ProcessIdentity.from_dict(Run.objects.get(pk=local_a.pk).executor_state)
        with running(manage_py("qcluster"), env=env_b, log=tmp_path / "b.log"):
            local_b = launched_on(env_b, project, by=owner)
            wait_for(
                lambda: Run.objects.get(pk=local_b.pk).status == RunStatus.RUNNING and lease_host(local_b) == "gpu-b",
                timeout=120,
                what="host B's qcluster to start its own local run",
            )
            loops_a = loops_holding("runs@gpu-a")
            wait_for(lambda: loops_a() > 6, timeout=60, what="host A's loop to hand over to successors on host A")
            # /metrics on either host sees both clusters' heartbeats, though both run on this one machine.
            assert last_json_line(SCRAPE, env_b | {"METRICS_TOKEN": "scrape"})["llmp_worker_clusters"] == 2
            # A loop lets go of its runs between slices: a run is its host's loop's, or nobody's for a moment.
            assert (lease_host(local_a) in {"gpu-a", ""}, lease_host(local_b) in {"gpu-b", ""}) == (True, True)

            os.killpg(host_a.pid, signal.SIGKILL)  # every process of host A's qcluster; its trainer lives on
            host_a.wait(10)
            killed_at, killed_at_wall = time.monotonic(), timezone.now()
            wait_for(lambda: lease_host(on_slurm) == "gpu-b", timeout=10, what="host B to take the Slurm run over")
            moved_after = time.monotonic() - killed_at
            # B's lease renewed over a second after A's leases lapsed (renewal + LEASE_SECONDS): B has ticked since.
            lapsed = killed_at_wall + timedelta(seconds=float(LEASE_SECONDS))
            wait_for(
                lambda: (
                    (expires := SupervisorLease.named("runs@gpu-b").lease_expires_at) is not None
                    and expires > lapsed + timedelta(seconds=float(LEASE_SECONDS) + 1.5)
                ),
                timeout=10,
                what="host B's loop to tick after A's leases lapsed",
            )
            local_a.refresh_from_db()
            assert (local_a.status, local_a.host) == (RunStatus.RUNNING, "gpu-a")
            assert lease_host(local_a) in {"gpu-a", ""}  # never B's
            assert is_running(trainer_a)
            assert Run.objects.get(pk=local_b.pk).status == RunStatus.RUNNING
            assert Run.objects.get(pk=on_slurm.pk).status == RunStatus.RUNNING
    subprocess.run(["scancel", str(Run.objects.get(pk=on_slurm.pk).executor_state["job_id"])], check=False)
    assert moved_after < 5
