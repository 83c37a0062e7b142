"""P10 /metrics: how long one Prometheus scrape takes with 1,000 runs and 64 GPUs.

The database gets 20 projects with 1,000 runs between them in every status (50
running, each with a log file on disk, 200 queued, the rest finished with a start
time), 64 GPUs (GPU_IDS) of which the running runs and 10 live deployments hold 60 in
the ledger, 3 checkpoints per run and 100 dataset files. Each scrape is a GET /metrics
with the bearer token through Django's test client (the whole middleware stack and
the view, no network); the first is left out of the figures (connections, imports).

    python bench/p10_metrics_scrape.py [--database postgres://postgres@127.0.0.1:5432/llmp_bench_p10] [--scrapes 50]

Goal: < 100 ms.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta

from machine import machine
from runs_setup import parser, setup

RUNS, PROJECTS, GPUS, DEPLOYMENTS = 1000, 20, 64, 10
TOKEN = "bench-token"


def populate(scratch) -> None:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from datasets.models import Dataset, DatasetFile
    from deployments.models import Deployment
    from gpus.models import GpuClaim
    from projects.models import Project
    from runs.models import Artifact, Run

    owner = User.objects.create_user("bench")
    projects = Project.objects.bulk_create(Project(name=f"project-{number:02}") for number in range(PROJECTS))
    now = timezone.now()
    statuses = ["running"] * 50 + ["queued"] * 200 + ["completed"] * 550 + ["failed"] * 150 + ["cancelled"] * 50
    runs = []
    for number, status in enumerate(statuses):
        run_dir = scratch / "runs" / f"run-{number}"
        if status == "running":
            run_dir.mkdir(parents=True)
            (run_dir / "train.log").write_bytes(b"step\n" * 100)
        started = None if status == "queued" else now - timedelta(seconds=number)
        runs.append(
            Run(
                project=projects[number % PROJECTS],
                name=f"run-{number}",
                status=status,
                run_dir=str(run_dir),
                started_at=started,
                log_offset=250,
                gpu_indices=[number] if status == "running" else [],
            )
        )
    Run.objects.bulk_create(runs)
    Artifact.objects.bulk_create(
        Artifact(run=run, name=f"checkpoint-{step}", type="checkpoint", path=f"{run.run_dir}/c{step}", size_bytes=10**9)
        for run in runs
        for step in (100, 200, 300)
    )
    running = [run for run in runs if run.status == "running"]
    GpuClaim.objects.bulk_create(
        GpuClaim(gpu_index=index, holder_kind="run", holder_id=str(run.pk), holder_label=run.name)
        for index, run in enumerate(running)
    )
    deployments = Deployment.objects.bulk_create(
        Deployment(
            created_by=owner,
            model_path="m",
            served_model_name=f"model-{number}",
            status="running",
            host="gpu-1",
            gpu_id=50 + number,
            port=8200 + number,
            health_ok=True,
            last_probe_at=now,
            last_probe_seconds=0.01,
        )
        for number in range(DEPLOYMENTS)
    )
    GpuClaim.objects.bulk_create(
        GpuClaim(gpu_index=50 + number, holder_kind="deployment", holder_id=str(deployment.pk))
        for number, deployment in enumerate(deployments)
    )
    dataset = Dataset.objects.create(name="corpus", task_type="sft", created_by=owner)
    DatasetFile.objects.bulk_create(
        DatasetFile(
            dataset=dataset,
            name=f"f{number}.jsonl",
            stored_name=f"{number}",
            relative_path=f"d/{number}",
            status="ready",
            bytes=10**6,
            received_bytes=10**6,
            validated_bytes=10**6,
            records=1000,
        )
        for number in range(100)
    )


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--scrapes", type=int, default=50)
    options = arguments.parse_args()
    os.environ["GPU_IDS"] = ",".join(f"{index}:NVIDIA A100-SXM4-80GB" for index in range(GPUS))
    os.environ["METRICS_TOKEN"] = TOKEN
    scratch = setup(options.database)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    populate(scratch)
    client = Client()
    timings = []
    for _ in range(options.scrapes + 1):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    timings = sorted(timings[1:])
    lines = response.content.decode().count("\n")
    print(
        f"{connection.vendor}: {RUNS} runs, {GPUS} GPUs, {lines} lines, {len(queries)} queries per scrape | "
        f"p50 {statistics.median(timings) * 1000:.1f} ms, p95 {timings[int(len(timings) * 0.95) - 1] * 1000:.1f} ms, "
        f"max {timings[-1] * 1000:.1f} ms over {options.scrapes} scrapes"
    )


if __name__ == "__main__":
    print(f"at the start, {machine()}", flush=True)
    main()
    print(f"at the end,   {machine()}")
