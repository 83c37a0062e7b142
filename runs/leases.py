"""Who holds a run: lease owner names that say which process holds them.

A lease owner is `host/pid/start-time/role`. On its own host a holder can be
checked in /proc, so a supervisor restarted after `kill -9` takes over the runs
of its dead predecessor at once; a holder on another host is trusted until its
lease expires (`SUPERVISOR_LEASE_SECONDS`).
"""

from __future__ import annotations

import os

from django.conf import settings

from llmplatform.processes import ProcessIdentity, is_running, read_start_time


def owner_name(role: str) -> str:
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
