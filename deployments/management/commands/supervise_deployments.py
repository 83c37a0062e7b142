"""`manage.py supervise_deployments`: probe this host's deployments until SIGTERM."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from deployments.supervisor import DeploymentSupervisor


class Command(BaseCommand):
    help = "Probe this host's model servers, mark exited ones failed; stops cleanly on SIGTERM or Ctrl-C."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Supervise every live deployment once, then exit.")
        parser.add_argument("--seconds", type=float, default=None, help="Stop after this many seconds.")

    def handle(self, *args, once: bool, seconds: float | None, **options) -> None:
        supervisor = DeploymentSupervisor()
        if once:
            if supervisor.acquire_lease():
                count = supervisor.tick()
                supervisor.release_lease()
                self.stdout.write(f"Supervised {count} deployment(s).")
            else:
                self.stdout.write("Another supervisor holds this host's lease; nothing done.")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"Supervising deployments on {settings.HOSTNAME} as {supervisor.owner}.", ending="\n")
        self.stdout.flush()
        supervisor.run(stop=stop, seconds=seconds)
        self.stdout.write("Supervisor stopped.")
