"""Leases: which live process does a piece of supervision work right now.

A lease is a row's `lease_owner` plus `lease_expires_at` (`Leased`): a run being
watched or started, or one supervision loop of a host (`SupervisorLease`). Its holder
renews it while it works; whoever finds it free or expired may take it.

A lease owner is `host/pid/start-time/role`. On its own host a holder can be checked
in /proc, so a process that died (`kill -9`) loses its leases at once to whoever looks
next instead of after they expire; a holder on another host is trusted until its lease
expires (`SUPERVISOR_LEASE_SECONDS`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from llmplatform.processes import ProcessIdentity, is_running, read_start_time


def owner_name(role: str) -> str:
    """This process's name as a lease owner, for the work `role` names ("runs-3fa2", "cancel")."""
    pid = os.getpid()
    return f"{settings.HOSTNAME}/{pid}/{read_start_time(pid)}/{role}"


def holder_is_dead(owner: str) -> bool:
    """True only when the holder ran on this host and that very process is gone."""
    try:
        host, pid, start_time, _role = owner.rsplit("/", 3)
        identity = ProcessIdentity(int(pid), int(start_time))
    except ValueError:
        return False
    return host == settings.HOSTNAME and not is_running(identity)


def take_leases(rows: models.QuerySet, owner: str, *, expires: datetime, seen_holders: Iterable[str] = ()) -> int:
    """Hold (or renew) until `expires`, for `owner`, in one UPDATE, each of `rows` no other live holder has;
    how many. `seen_holders` are the holders last seen on them: one on this host whose process is gone
    loses them at once."""
    free = Q(lease_owner="") | Q(lease_owner=owner) | Q(lease_expires_at__lt=timezone.now())
    dead = [holder for holder in set(seen_holders) if holder and holder != owner and holder_is_dead(holder)]
    if dead:
        free |= Q(lease_owner__in=dead)
    return rows.filter(free).update(lease_owner=owner, lease_expires_at=expires)


class Leased(models.Model):
    """A row that at most one live process works on at a time."""

    lease_owner = models.CharField(max_length=255, blank=True, verbose_name=_("lease owner"))
    lease_expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("lease expires at"))

    class Meta:
        abstract = True

    def take_lease(self, owner: str, *, seconds: float, where: Q | None = None) -> bool:
        """Hold (or renew) the row for `owner` unless another live holder has it; the row must match `where`.

        A holder last seen on this row whose process is gone loses it at once.
        """
        rows = type(self)._default_manager.filter(where or Q(), pk=self.pk)
        expires = timezone.now() + timedelta(seconds=seconds)
        taken = take_leases(rows, owner, expires=expires, seen_holders=[self.lease_owner]) == 1
        if taken:
            self.lease_owner, self.lease_expires_at = owner, expires
        return taken

    def release_lease(self, owner: str) -> None:
        """Let go of the row if `owner` still holds it."""
        type(self)._default_manager.filter(pk=self.pk, lease_owner=owner).update(lease_owner="", lease_expires_at=None)
        if self.lease_owner == owner:
            self.lease_owner, self.lease_expires_at = "", None

    def held_by_another_live_process(self, owner: str = "") -> bool:
        """Whether someone other than `owner` holds an unexpired lease and, on this host, still runs."""
        if not self.lease_owner or self.lease_owner == owner:
            return False
        if self.lease_expires_at is None or self.lease_expires_at < timezone.now():
            return False
        return not holder_is_dead(self.lease_owner)
