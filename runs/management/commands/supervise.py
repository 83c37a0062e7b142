"""`manage.py supervise`: run this host's supervision loops in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from llmplatform import supervision


class Command(BaseCommand):
    help = (
        "Watch this host's runs (start queued ones, read their output, record their end) and probe its model "
        "servers, without qcluster, until stopped. Where a live loop already holds a duty, stand by to take it over."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        choices = ", ".join(supervision.DUTIES)
        parser.add_argument("duties", nargs="*", metavar="DUTY", help=f"Only these loops: {choices} (default all).")
        parser.add_argument("--duration", type=float, default=None, help="Stop after this many seconds.")
        parser.add_argument("--once", action="store_true", help="Tick each loop once, then exit.")

    def handle(self, *args: str, duties: list[str], duration: float | None, once: bool, **options: object) -> None:
        unknown = sorted(set(duties) - set(supervision.DUTIES))
        if unknown:
            self.stderr.write(f"Unknown duty {', '.join(unknown)}; choose from {', '.join(supervision.DUTIES)}.")
            raise SystemExit(2)
        loops = [supervision.Loop(name) for name in duties or supervision.DUTIES]

        def stop(signum: int, frame: object) -> None:
            self.stdout.write(f"Signal {signal.Signals(signum).name}: finishing this tick, then stopping.")
            for loop in loops:
                loop.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        # One loop per thread; the last one in this thread, which holds the caller's database connection.
        threads = [threading.Thread(target=self.run_in_thread, args=(loop, duration, once)) for loop in loops[:-1]]
        for thread in threads:
            thread.start()
        self.run_loop(loops[-1], duration, once)
        for thread in threads:
            thread.join()

    def run_in_thread(self, loop: supervision.Loop, duration: float | None, once: bool) -> None:
        try:
            self.run_loop(loop, duration, once)
        finally:
            connection.close()  # the thread's own

    def run_loop(self, loop: supervision.Loop, duration: float | None, once: bool) -> None:
        if loop.run(seconds=duration, once=once, standby=not once):
            self.stdout.write(f"{loop.owner} stopped.")
        else:
            self.stdout.write(f"Another live loop holds {loop.lease.name}; nothing done.")
