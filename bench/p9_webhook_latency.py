"""P9 webhook latency: from a run's transition to its webhook delivery arriving at the receiver.

A real `manage.py qcluster` (ORM broker, or Redis with --redis) delivers; the receiver is
an HTTP server on loopback in this process. Each round cancels a queued run (a real
transition through runs.services, committed), and the time from the commit to the
receiver reading the request is one sample. WEBHOOK_ALLOW_PRIVATE is on: the receiver
is on loopback.

    python bench/p9_webhook_latency.py [--database postgres://...] [--redis redis://127.0.0.1:6380/0] [--events 30]

Goal: p50 < 1 s.
"""

from __future__ import annotations

import operator
import os
import statistics
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from machine import machine
from runs_setup import REPO, parser, setup

arrivals: dict[str, float] = {}
arrived = threading.Condition()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with arrived:
            arrivals[self.headers["X-LLMP-Delivery"]] = time.perf_counter()
            arrived.notify_all()
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--redis", default="")
    arguments.add_argument("--events", type=int, default=30)
    options = arguments.parse_args()
    os.environ["WEBHOOK_ALLOW_PRIVATE"] = "1"
    if options.redis:
        os.environ["REDIS_URL"] = options.redis
    scratch = setup(options.database)

    from django.contrib.auth.models import User

    from notifications.models import Delivery
    from notifications.services import create_subscription
    from projects.models import Project
    from runs.models import Run
    from runs.services import cancel_run

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    owner = User.objects.create_user("bench-owner")
    project = Project.objects.create(name="bench", created_by=owner)
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    create_subscription(project=project, actor=owner, url=url, events=["run.cancelled"])

    log = open(scratch / "qcluster.log", "ab")  # noqa: SIM115 (open for the cluster's whole life)
    cluster = subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "qcluster"], env=os.environ, stdout=log, stderr=log, cwd=REPO
    )
    try:
        time.sleep(3)  # the cluster's start, not measured
        samples = []
        for number in range(options.events + 1):
            run = Run.objects.create(project=project, name=f"run-{number}", created_by=owner)
            cancel_run(run=run, actor=owner)
            committed = time.perf_counter()
            delivery_id = str(Delivery.objects.get(payload__data__run_id=str(run.pk)).pk)
            with arrived:
                arrived.wait_for(partial(operator.contains, arrivals, delivery_id), timeout=30)
            samples.append(arrivals[delivery_id] - committed)
        samples = sorted(samples[1:])  # the first wakes the cluster's workers
        broker = "redis" if options.redis else "orm"
        database = os.environ.get("DATABASE_URL", "sqlite").split(":")[0]
        p50, p95 = statistics.median(samples) * 1000, samples[int(len(samples) * 0.95) - 1] * 1000
        print(
            f"{broker} broker, {database}: {len(samples)} events | "
            f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {samples[-1] * 1000:.0f} ms"
        )
    finally:
        cluster.terminate()
        cluster.wait(30)
        server.shutdown()


if __name__ == "__main__":
    print(f"at the start, {machine()}", flush=True)
    main()
    print(f"at the end,   {machine()}")
