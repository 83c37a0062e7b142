"""The runs' django-q2 side: dispatching, and the runs' supervision loop under a real qcluster."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.conf import settings as django_settings
from django_q.models import OrmQ

from llmplatform import leases, supervision
from llmplatform.models import SupervisorLease
from llmplatform.testing import manage_py, running, subprocess_env, wait_for
from runs import services, tasks
from runs.models import Run, RunStatus

LONG = {"max_steps": 100000, "step_seconds": 0.05, "logging_steps": 1}


def test_it_dispatches_and_wakes_the_runs_loop(project, owner, fake_trainer):
    run = services.create_run(project=project, actor=owner, hyperparameters=LONG)

    assert tasks.dispatch_queued_runs() == 1

    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING
    assert [(task.func(), task.task["args"]) for task in OrmQ.objects.all()] == [
        ("llmplatform.supervision.supervise", ("runs",))
    ]


def test_a_slice_starts_and_finishes_runs_then_ends_with_nothing_left(project, owner, settings):
    settings.TRAINING_COMMAND = "true"
    settings.SUPERVISOR_TASK_SECONDS = 30
    settings.SUPERVISOR_INTERVAL_SECONDS = 0.1
    run = services.create_run(project=project, actor=owner)

    report = supervision.supervise("runs")

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert run.lease_owner == ""
    assert "nothing left to watch" in report
    assert not OrmQ.objects.exists()


def loop_holder() -> str:
    return SupervisorLease.objects.filter(name=supervision.lease_name("runs")).values_list("lease_owner", flat=True)[0]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_new_loop_watches_the_runs_within_5_seconds_of_kill_9_of_the_worker_running_the_loop(
    project, owner, fake_trainer, isolated_dirs
):
    # Short slices: stopping the cluster at the end waits for the one running.
    env = subprocess_env(SUPERVISOR_TASK_SECONDS="3")
    with running(manage_py("qcluster"), env=env, log=isolated_dirs / "qcluster.log") as qcluster:
        run = services.create_run(project=project, actor=owner, hyperparameters=LONG)  # started and woken inline
        first = wait_for(lambda: Run.objects.get(pk=run.pk).lease_owner, timeout=60, what="a loop to watch the run")
        assert first == loop_holder()
        worker_pid = int(first.split("/")[1])
        assert worker_pid != os.getpid() and os.getpgid(worker_pid) == qcluster.pid  # a worker of the cluster

        os.kill(worker_pid, signal.SIGKILL)
        killed_at = time.monotonic()

        def watched_by_a_new_loop() -> str:
            holder = Run.objects.get(pk=run.pk).lease_owner
            return holder if holder not in ("", first) and not leases.holder_is_dead(holder) else ""

        second = wait_for(watched_by_a_new_loop, timeout=5, interval=0.05, what="a new loop to watch the run")
        taken_over_after = time.monotonic() - killed_at
        assert second == loop_holder()
        lines = Run.objects.get(pk=run.pk).log_lines.count()
        wait_for(lambda: Run.objects.get(pk=run.pk).log_lines.count() > lines, timeout=5, what="new lines read")
    print(f"taken over {taken_over_after:.2f} s after kill -9 ({django_settings.DATABASES['default']['ENGINE']})")
