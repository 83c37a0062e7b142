"""runs.tasks: the django-q2 side of supervision (the cluster is `sync` in tests)."""

from __future__ import annotations

from django.core.cache import cache
from django_q.models import Schedule

from runs import services, tasks
from runs.models import RunStatus


def test_it_schedules_the_supervision_loop_for_qcluster(db):
    schedule = Schedule.objects.get(func="runs.tasks.supervise_runs")

    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


def test_it_runs_a_bounded_loop_that_starts_and_finishes_runs(project, owner, settings):
    settings.TRAINING_COMMAND = "true"
    settings.SUPERVISOR_TASK_SECONDS = 1.5
    settings.SUPERVISOR_INTERVAL_SECONDS = 0.1
    run = services.create_run(project=project, actor=owner)

    tasks.supervise_runs()

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert run.lease_owner == ""


def test_it_runs_one_loop_per_host(db, settings):
    key = f"runs:supervisor-loop:{settings.HOSTNAME}"
    cache.set(key, 1234, timeout=60)
    try:
        assert tasks.supervise_runs() == "another supervision loop runs on this host"
    finally:
        cache.delete(key)
