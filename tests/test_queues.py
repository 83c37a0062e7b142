"""llmplatform.queues: a host's workers take the tasks queued for it and the shared ones, never another host's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from django_q.conf import Conf

from llmplatform import queues
from runs.executors import get_executor
from runs.models import Run

pytestmark = pytest.mark.django_db

Broker = queues.ORM | queues.Redis


@pytest.fixture(params=["orm", "redis"])
def broker_for(request) -> Callable[[str], Broker]:
    """A factory: the broker of a queue, on the database or on a throwaway Redis."""
    if request.param == "orm":
        return lambda queue: queues.ORM(list_key=queue)
    connection = redis.from_url(request.getfixturevalue("redis_url"))

    def redis_broker(queue: str) -> Broker:
        broker = queues.Redis(list_key=queue)
        broker.connection = connection
        return broker

    return redis_broker


def taken_by(broker: Broker) -> list[str]:
    taken: list[str] = []
    while batch := broker.dequeue():
        taken += [payload.decode() if isinstance(payload, bytes) else payload for _, payload in batch]
    return taken


def test_it_gives_a_hosts_workers_their_hosts_tasks_first_then_shared_ones_and_never_another_hosts(
    broker_for, settings
):
    broker_for(Conf.PREFIX).enqueue("anyone's")
    broker_for(queues.host_queue("gpu-a")).enqueue("gpu-a's")
    broker_for(queues.host_queue("gpu-b")).enqueue("gpu-b's")

    settings.HOSTNAME = "gpu-a"
    assert taken_by(broker_for(Conf.PREFIX)) == ["gpu-a's", "anyone's"]

    settings.HOSTNAME = "gpu-b"
    assert taken_by(broker_for(Conf.PREFIX)) == ["gpu-b's"]


def test_it_counts_the_tasks_waiting_in_every_queue(broker_for):
    broker_for(Conf.PREFIX).enqueue("anyone's")
    broker_for(queues.host_queue("gpu-a")).enqueue("gpu-a's")
    broker_for(queues.host_queue("gpu-b")).enqueue("gpu-b's")

    assert broker_for(Conf.PREFIX).every_queue_size() == 3


def test_it_reads_the_waiting_tasks_from_the_configured_broker():
    queues.ORM(list_key=queues.host_queue("gpu-a")).enqueue("gpu-a's")

    assert queues.waiting_tasks() == 1


def test_it_leaves_a_local_runs_tasks_to_its_host_and_a_slurm_runs_to_any(project):
    local = Run.objects.create(project=project, executor="local", host="gpu-a")
    on_slurm = Run.objects.create(project=project, executor="slurm", host="gpu-a")

    assert get_executor("local").task_queue(local) == queues.host_queue("gpu-a")
    assert get_executor("slurm").task_queue(on_slurm) is None
