"""The loop that keeps this host's deployments probed, one supervisor per host at a time.

It reads every live deployment of this host from the database on each tick, so a
restarted supervisor re-attaches to servers that kept running (identified by pid and
process start time) and marks those that died meanwhile as failed. It runs as
`manage.py supervise_deployments` or inside a django-q2 task (`deployments.tasks`);
a lease in the database keeps two of them from probing the same servers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from deployments import services
from deployments.models import Deployment, SupervisorLease

logger = logging.getLogger(__name__)


class DeploymentSupervisor:
    def __init__(self) -> None:
        self.owner = f"{settings.HOSTNAME}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_name = f"deployments@{settings.HOSTNAME}"

    def acquire_lease(self) -> bool:
        """Take or renew this host's lease; False while another live supervisor holds it."""
        now = timezone.now()
        expires_at = now + timedelta(seconds=settings.DEPLOY_SUPERVISOR_LEASE_SECONDS)
        renewed = SupervisorLease.objects.filter(
            Q(owner=self.owner) | Q(expires_at__lt=now), name=self.lease_name
        ).update(owner=self.owner, expires_at=expires_at)
        if renewed:
            return True
        try:
            with transaction.atomic():
                SupervisorLease.objects.create(name=self.lease_name, owner=self.owner, expires_at=expires_at)
        except IntegrityError:
            return False
        return True

    def release_lease(self) -> None:
        SupervisorLease.objects.filter(name=self.lease_name, owner=self.owner).delete()

    def tick(self) -> int:
        """Supervise every live deployment of this host once; returns how many."""
        deployments = list(Deployment.objects.live().on_this_host())
        for deployment in deployments:
            if not self.acquire_lease():  # renewed per server: probes of many servers take a while
                break
            try:
                services.supervise(deployment)
            except Exception:  # one broken deployment must not blind the supervisor to the others
                logger.exception("Supervising deployment %s failed", deployment.pk)
        return len(deployments)

    def run(self, *, stop: threading.Event, seconds: float | None = None) -> None:
        """Tick every DEPLOY_PROBE_INTERVAL_SECONDS until `stop` is set (or `seconds` pass)."""
        deadline = time.monotonic() + seconds if seconds is not None else None
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                # A long-lived loop outlives database restarts: drop broken or expired connections
                # (never the one a caller's transaction, such as a test's, is using).
                if not connection.in_atomic_block:
                    close_old_connections()
                try:
                    if self.acquire_lease():
                        self.tick()
                except DatabaseError:
                    logger.exception("Database unavailable; the supervisor retries")
                stop.wait(settings.DEPLOY_PROBE_INTERVAL_SECONDS)
        finally:
            with contextlib.suppress(DatabaseError):
                self.release_lease()  # else it expires by itself
