"""llmplatform.supervision: one live loop per duty and host, handed over while there is work.

The duty used here is the deployments' one with a deployment row that has no process
yet (created moments ago, so a tick leaves it alone): it gives a loop work without
starting anything.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_q.models import OrmQ
from django_q.tasks import async_task

from deployments.models import Deployment
from llmplatform import leases, supervision
from llmplatform.models import SupervisorLease

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(settings) -> Deployment:
    return Deployment.objects.create(model_path="models/m", served_model_name="m", host=settings.HOSTNAME)


def dead_owner(settings) -> str:
    """The lease owner name of a process of this host that has exited."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return f"{settings.HOSTNAME}/{int(gone.stdout)}/12345/deployments-gone"


def hold(name: str, owner: str, *, for_seconds: float = 60) -> None:
    SupervisorLease.objects.update_or_create(
        name=supervision.lease_name(name),
        defaults={"lease_owner": owner, "lease_expires_at": timezone.now() + timedelta(seconds=for_seconds)},
    )


def queued_loops() -> list[tuple]:
    return [(task.func(), task.task["args"]) for task in OrmQ.objects.all()]


def test_it_lets_one_live_loop_hold_a_duty_on_a_host():
    first, second = supervision.Loop("deployments"), supervision.Loop("deployments")
    assert first.lease.take_lease(first.owner, seconds=60)

    assert second.run(once=True) is False
    assert SupervisorLease.objects.get().lease_owner == first.owner


def test_it_keeps_what_its_process_held_when_it_started_out_of_full_collections():
    supervision.keep_start_up_out_of_collections.cache_clear()  # as in a process no loop has run in yet
    gc.unfreeze()

    supervision.Loop("deployments").run(once=True)

    assert gc.get_freeze_count() > 0  # Django and the apps' modules, which no full collection walks again


def test_it_takes_over_at_once_from_a_loop_whose_process_died(settings):
    hold("deployments", dead_owner(settings), for_seconds=3600)
    loop = supervision.Loop("deployments")

    assert loop.run(once=True) is True


def test_it_waits_out_the_lease_of_a_loop_on_another_host():
    hold("deployments", "other-host/4242/999/deployments-x", for_seconds=60)
    assert supervision.Loop("deployments").run(once=True) is False

    SupervisorLease.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))  # it stopped renewing
    assert supervision.Loop("deployments").run(once=True) is True


def test_it_gives_the_lease_back_when_it_ends():
    supervision.Loop("deployments").run(once=True)

    lease = SupervisorLease.objects.get(name=supervision.lease_name("deployments"))
    assert (lease.lease_owner, lease.lease_expires_at) == ("", None)


def test_a_spare_takes_over_when_the_holder_lets_go(settings):
    settings.DEPLOY_PROBE_INTERVAL_SECONDS = 0.01
    holder, spare = supervision.Loop("deployments"), supervision.Loop("deployments")
    holder.lease.take_lease(holder.owner, seconds=60)
    waited = []

    def let_go_after_a_few_looks() -> None:
        waited.append(1)
        if len(waited) == 3:
            holder.lease.release_lease(holder.owner)

    spare.duty.interval = 0.01
    spare.pause = let_go_after_a_few_looks  # type: ignore[method-assign]

    assert spare.run(once=True, standby=True) is True
    assert len(waited) == 3


def test_it_stops_when_another_loop_has_taken_its_lease(work):
    loop = supervision.Loop("deployments")
    ticks = []

    def tick(keep_going: Callable[[], bool] = supervision.always) -> None:
        ticks.append(1)
        hold("deployments", "other-host/4242/999/deployments-x")  # its lease expired meanwhile and was taken

    loop.duty.tick = tick  # type: ignore[method-assign]
    loop.duty.interval = 0.0
    loop.lease_seconds = 0.0  # every look at the lease goes to the database

    assert loop.run(seconds=30) is True
    assert ticks == [1]
    assert SupervisorLease.objects.get().lease_owner == "other-host/4242/999/deployments-x"


def test_it_keeps_ticking_through_a_database_hiccup(work):
    loop = supervision.Loop("deployments")
    loop.duty.interval = 0.0
    outcomes = iter([OperationalError("server closed the connection unexpectedly"), None, None])
    ticks = []

    def tick(keep_going: Callable[[], bool] = supervision.always) -> None:
        if (outcome := next(outcomes)) is not None:
            raise outcome
        ticks.append(1)
        if len(ticks) == 2:
            loop.stop()

    loop.duty.tick = tick  # type: ignore[method-assign]

    loop.run(seconds=30)

    assert len(ticks) == 2


def test_a_slice_queues_its_successor_while_there_is_work(work, settings):
    settings.SUPERVISOR_TASK_SECONDS = 0.2

    report = supervision.supervise("deployments")

    assert "successor queued" in report
    assert queued_loops() == [("llmplatform.supervision.supervise", ("deployments",))]


def test_a_slice_ends_early_and_queues_nothing_once_there_is_no_work(settings):
    settings.SUPERVISOR_TASK_SECONDS = 60

    report = supervision.supervise("deployments")

    assert "nothing left to watch" in report
    assert queued_loops() == []


def test_it_wakes_a_duty_with_work_unless_a_live_loop_holds_it(work, settings):
    hold("deployments", leases.owner_name("deployments-alive"))  # this very process: alive
    assert supervision.wake("deployments") is False

    hold("deployments", dead_owner(settings))
    assert supervision.wake("deployments") is True
    assert queued_loops() == [("llmplatform.supervision.supervise", ("deployments",))]


def test_it_queues_a_loop_for_the_workers_of_its_own_host_only(work, settings):
    assert supervision.wake("deployments") is True

    assert [task.key for task in OrmQ.objects.all()] == [f"{settings.Q_CLUSTER['name']}@{settings.HOSTNAME}"]


def test_it_wakes_nothing_without_work():
    assert supervision.wake("deployments") is False
    assert supervision.wake("runs") is False
    assert queued_loops() == []


def test_a_task_run_inline_starts_no_worker_and_so_wakes_nothing(work):
    assert async_task("math.floor", 2.5)  # django-q2 sends post_spawn from the caller here

    assert queued_loops() == []
