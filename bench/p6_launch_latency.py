"""P6 launch latency: POST /projects/{ref}/runs → `running`, p50 and p95 over 50 runs.

The platform as the README's first command runs it: requests handled in this
process (DRF test client), background work in a real `manage.py qcluster` (which
also runs the supervision loop), SQLite or PostgreSQL. The trainer is the stand-in
(runs/tests/fixtures/fake_trainer.py, 3 quick steps), so runs end quickly and
never pile up; the clock stops when the run's row says `running`.

    python bench/p6_launch_latency.py [--runs 50] [--database postgres://…]

Goal: p50 ≤ 1 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from machine import machine
from runs_setup import REPO, parser, setup


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--runs", type=int, default=50)
    options = arguments.parse_args()
    from runs.tests.fixtures import fake_trainer_command

    os.environ["TRAINING_COMMAND"] = fake_trainer_command()
    scratch = setup(options.database)

    from django.conf import settings
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    from llmplatform.processes import terminate_group
    from projects.services import create_project
    from runs.models import Run, RunStatus

    training_dir = settings.HOST_TRAINING_DIR
    (training_dir / "datasets").mkdir(parents=True)
    (training_dir / "configs").mkdir()
    (training_dir / "datasets" / "tiny.jsonl").write_text('{"messages": []}\n')
    (training_dir / "configs" / "fake.yaml").write_text("max_steps: 3\nstep_seconds: 0\nsave_steps: 0\n")
    user = User.objects.create_user("bench", is_staff=True)
    fields = {"name": "latency", "dataset_name": "datasets/tiny.jsonl", "training_yaml_name": "configs/fake.yaml"}
    project = create_project(actor=user, fields=fields)
    client = APIClient()
    client.force_authenticate(user)
    cluster = subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "qcluster"],
        cwd=REPO,
        stdout=open(scratch / "qcluster.log", "wb"),  # noqa: SIM115 (lives as long as the process)
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped whole, workers and all
    )
    latencies = []
    try:
        time.sleep(3)  # the cluster's workers come up
        for _ in range(options.runs):
            started = time.perf_counter()
            response = client.post(f"/projects/{project.name}/runs", {}, format="json")
            assert response.status_code == 201, response.content
            run_id = response.json()["id"]
            deadline = time.monotonic() + 60
            while Run.objects.filter(pk=run_id, status=RunStatus.QUEUED).exists():
                assert time.monotonic() < deadline, "the run did not start within 60 s"
                time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
            status = Run.objects.get(pk=run_id).status
            assert status in {RunStatus.RUNNING, RunStatus.COMPLETED}, status
    finally:
        # Its supervision loop is a long task the cluster would wait for: no grace needed here.
        terminate_group(cluster.pid, grace=5)
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}  runs: {len(latencies)}")
    print(
        f"POST -> running: p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (goal p50 <= 1 s)"
    )


if __name__ == "__main__":
    print(f"at the start, {machine()}", flush=True)
    main()
    print(f"at the end,   {machine()}")
