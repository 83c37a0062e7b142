"""`manage.py supervise`: watch this host's runs until SIGTERM or SIGINT."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from runs.supervisor import Supervisor


class Command(BaseCommand):
    help = "Start queued runs and watch running ones (logs, progress, checkpoints, the end) until stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--duration", type=float, default=None, help="Stop after this many seconds.")

    def handle(self, *args, duration: float | None = None, **options) -> None:
        supervisor = Supervisor()

        def stop(signum, frame) -> None:
            self.stdout.write(f"Signal {signal.Signals(signum).name}: finishing this tick, then stopping.")
            supervisor.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        supervisor.run(duration=duration)
