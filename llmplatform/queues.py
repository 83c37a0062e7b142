"""django-q2's queues across hosts: one shared by every host's workers, and one of each host's own.

Every host's qcluster reads the same broker (Redis, or the database), so a task in the
shared queue goes to whichever host's worker is free first. That suits work any host
may do: webhooks, validating uploads, de-identifying datasets, starting a Docker or
Slurm run. It does not suit work only one host can do: a host's supervision loops (the
loop's lease is `<duty>@<host>` of the worker that runs it, and only that host can watch
its trainers) and whatever touches a local run's processes or files. Such a task is
queued in its host's own queue (`host_queue`), which only that host's workers take.

One qcluster per host serves both: these brokers (settings' `Q_CLUSTER["broker_class"]`)
take from the worker's own host queue first, then from the shared one. The cluster name,
and with it the heartbeats `/healthz` and `/metrics` read, stays one for every host.
"""

from __future__ import annotations

from time import sleep
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_q.brokers import get_broker, redis_broker
from django_q.brokers import orm as orm_broker
from django_q.conf import Conf
from django_q.models import OrmQ


def host_queue(host: str = "") -> str:
    """The queue only `host`'s workers (this host's when empty) take tasks from."""
    return f"{Conf.PREFIX}@{host or settings.HOSTNAME}"


class ORM(orm_broker.ORM):
    """The database broker, taking this host's tasks besides those of its own queue."""

    def dequeue(self) -> list[tuple[Any, Any]] | None:
        keys = {self.list_key, host_queue()}
        # This host's queue first: its name extends the shared queue's, so it sorts after it.
        tasks = self.get_connection().filter(key__in=keys, lock__lt=timezone.now()).order_by("-key", "id")
        taken = [
            (task.pk, task.payload)
            for task in tasks[: Conf.BULK]
            # Another host's worker may have been faster: only the one whose update matched takes it.
            if self.get_connection().filter(id=task.id, lock=task.lock).update(lock=self.timeout(task))
        ]
        if not taken:
            sleep(Conf.POLL)  # an empty queue: spare the database
        return taken or None

    def every_queue_size(self) -> int:
        return OrmQ.objects.using(Conf.ORM).filter(lock__lte=timezone.now()).count()


class Redis(redis_broker.Redis):
    """The Redis broker, taking this host's tasks (first) besides those of its own queue."""

    def dequeue(self) -> list[tuple[Any, Any]] | None:
        own = f"django_q:{host_queue()}:q"
        task = self.connection.blpop(list(dict.fromkeys([own, self.list_key])), 1)
        return [(None, task[1])] if task else None

    def every_queue_size(self) -> int:
        keys = [f"django_q:{Conf.PREFIX}:q", *self.connection.scan_iter(match=f"django_q:{Conf.PREFIX}@*:q")]
        return sum(self.connection.llen(key) for key in keys)


def waiting_tasks() -> int:
    """Tasks waiting in every queue, the shared one and each host's."""
    broker = get_broker()
    return broker.every_queue_size() if isinstance(broker, ORM | Redis) else broker.queue_size() or 0
