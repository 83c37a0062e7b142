"""P4b metric ingestion: points/s from trainers to stored, read-back points, vs MLflow log-batch.

Both sides take the same points the same way: `--writers` trainers at once, each
writing `--steps` distinct steps of `--metrics` values, as fast as they can; the
clock runs from the first write to the moment the last point is stored, and what
each side stored is then counted by reading it back.

- Ours, through its real ingestion path (the platform has no metric write API):
  `--writers` runs of the stand-in trainer (runs/tests/fixtures/fake_trainer.py,
  `metrics.jsonl` records of `--metrics` values per step), launched as any run is and
  ingested by the real supervision loop (`manage.py supervise runs`); the points are
  read back through GET …/metrics.
- MLflow: its tracking server (own venv, `--workers 2`, SQLite backend), `--writers`
  threads each posting one `runs/log-batch` per step to a run of its own (as a
  trainer's MLflow callback does); the points are read back through
  `metrics/get-history`, every metric of every run.

    python bench/p4b_metric_ingestion.py --mlflow /work/venv-mlflow/bin/mlflow [--database postgres://…] [--rounds 5]

Rounds alternate the two sides (a change of load on a shared machine hits both alike), each round with
runs and an MLflow store of its own; the ratio is the median of the rounds' ratios, printed with its spread.

Goal: ≥ 10× MLflow's points/s, 0 points lost on either side.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

from machine import machine
from p4_reads_vs_mlflow import free_port, post_json, start_mlflow, stop_group, wait_until_up
from runs_setup import REPO, parser, setup


class Side(NamedTuple):
    seconds: float  # from the first write to the last point stored
    stored: int  # points read back
    failed: int  # writes refused (MLflow: requests that did not succeed)


def metric_names(metrics: int, prefix: str = "") -> list[str]:
    return [f"{prefix}metric_{n}" for n in range(metrics)]


def ours(scratch: Path, *, round_number: int, writers: int, steps: int, metrics: int) -> Side:
    from django.conf import settings
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    from projects.services import create_project
    from runs.models import MetricPoint, Run, RunStatus
    from runs.services import create_run

    training = Path(settings.HOST_TRAINING_DIR)
    (training / "datasets").mkdir(parents=True, exist_ok=True)
    (training / "configs").mkdir(exist_ok=True)
    (training / "datasets" / "tiny.jsonl").write_text('{"messages": []}\n')
    (training / "configs" / "metrics.yaml").write_text(
        f"max_steps: {steps}\nstep_seconds: 0\nlogging_steps: 1\nsave_steps: 0\nspawn_worker: false\n"
        f"metrics_jsonl: true\nmetrics_per_step: {metrics}\n"
    )
    user, _ = User.objects.get_or_create(username="bench", defaults={"is_staff": True})
    fields = {
        "name": f"metrics-{round_number}",
        "dataset_name": "datasets/tiny.jsonl",
        "training_yaml_name": "configs/metrics.yaml",
    }
    project = create_project(actor=user, fields=fields)
    runs = [create_run(project=project, actor=user, name=f"writer-{n}") for n in range(writers)]
    ids = [run.pk for run in runs]
    expected = writers * steps * metrics
    supervisor = subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "supervise", "runs"],
        cwd=REPO,
        stdout=open(scratch / "supervise.log", "wb"),  # noqa: SIM115 (lives as long as the process)
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # The platform files a trainer's own metrics under `train/`.
    ours_points = MetricPoint.objects.filter(run__in=ids, name__in=metric_names(metrics, "train/"))
    # A step's values are stored in one statement, so the last metric's points are a cheap sign to poll: a
    # count of every point 20 times a second would itself load the database the ingestion writes to.
    last_metric = MetricPoint.objects.filter(run__in=ids, name=f"train/metric_{metrics - 1}")
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and (last_metric.count() < writers * steps or ours_points.count() < expected):
            time.sleep(0.05)
        stored_at = time.time()
        while Run.objects.filter(pk__in=ids, status=RunStatus.RUNNING).exists() and time.monotonic() < deadline:
            time.sleep(0.2)  # the runs finish: nothing more will come
    finally:
        stop_group(supervisor.pid)
    first_start = min(run.started_at for run in Run.objects.filter(pk__in=ids) if run.started_at)
    client = APIClient()
    client.force_authenticate(user)
    stored = 0
    for run_id in ids:
        series = client.get(f"/projects/{project.name}/runs/{run_id}/metrics").json()["series"]
        stored += sum(len(item["points"]) for item in series if item["name"].startswith("train/metric_"))
    failed = Run.objects.filter(pk__in=ids).exclude(status=RunStatus.COMPLETED).count()
    return Side(stored_at - first_start.timestamp(), stored, failed)


def mlflow(executable: str, scratch: Path, *, round_number: int, writers: int, steps: int, metrics: int) -> Side:
    port = free_port()
    store = scratch / f"mlflow-{round_number}"
    store.mkdir()
    server = start_mlflow(executable, store, port)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/health", {})
        experiment = post_json(f"{base}/api/2.0/mlflow/experiments/create", {"name": "bench"})["experiment_id"]
        run_ids = [
            post_json(f"{base}/api/2.0/mlflow/runs/create", {"experiment_id": experiment})["run"]["info"]["run_id"]
            for _ in range(writers)
        ]
        failures = [0] * writers

        def write(index: int) -> None:
            for step in range(1, steps + 1):
                now = int(time.time() * 1000)
                batch = [
                    {"key": f"metric_{n}", "value": step / (n + 1), "timestamp": now, "step": step}
                    for n in range(metrics)
                ]
                try:
                    post_json(f"{base}/api/2.0/mlflow/runs/log-batch", {"run_id": run_ids[index], "metrics": batch})
                except OSError:
                    failures[index] += 1

        threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
        started = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.time() - started
        stored = 0
        for run_id in run_ids:
            for name in metric_names(metrics):
                url = f"{base}/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key={name}&max_results=100000"
                with urllib.request.urlopen(url, timeout=120) as response:
                    stored += len(json.loads(response.read()).get("metrics", []))
        return Side(seconds, stored, sum(failures))
    finally:
        stop_group(server.pid)


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--mlflow", default="/work/venv-mlflow/bin/mlflow", help="the mlflow executable")
    arguments.add_argument("--writers", type=int, default=8, help="trainers writing at once, on each side")
    arguments.add_argument("--steps", type=int, default=200, help="distinct steps each trainer writes")
    arguments.add_argument("--metrics", type=int, default=100, help="values per step")
    arguments.add_argument("--rounds", type=int, default=5, help="alternating rounds of both sides")
    options = arguments.parse_args()
    at_start = machine()
    from runs.tests.fixtures import fake_trainer_command

    os.environ["TRAINING_COMMAND"] = fake_trainer_command()
    scratch = setup(options.database)
    from django.conf import settings

    shape = {"writers": options.writers, "steps": options.steps, "metrics": options.metrics}
    expected = options.writers * options.steps * options.metrics
    print(f"at the start, {at_start}")
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(f"{options.writers} writers x {options.steps} steps x {options.metrics} metrics = {expected:,} points a side")
    ratios: list[float] = []
    lost = {"platform": 0, "MLflow": 0}
    for round_number in range(1, options.rounds + 1):
        platform = ours(scratch, round_number=round_number, **shape)
        anchor = mlflow(options.mlflow, scratch, round_number=round_number, **shape)
        print(f"round {round_number}:")
        for name, side, how in (
            ("platform", platform, "trainers' metrics.jsonl -> supervise runs"),
            ("MLflow", anchor, "log-batch over HTTP"),
        ):
            lost[name] += expected - side.stored
            print(
                f"  {name:8}: {expected / side.seconds:9,.0f} points/s ({how}, {side.seconds:.1f} s),"
                f" read back {side.stored:,}/{expected:,}, {side.failed} failed"
            )
        ratios.append(anchor.seconds / platform.seconds)
        print(f"  ratio {ratios[-1]:.1f}x", flush=True)
    print(f"at the end,   {machine()}")
    print(
        f"median ratio over {len(ratios)} rounds: {statistics.median(ratios):.1f}x"
        f" (spread {min(ratios):.1f}-{max(ratios):.1f}x; goal >= 10x, 0 lost);"
        f" lost: platform {lost['platform']:,}, MLflow {lost['MLflow']:,}"
    )


if __name__ == "__main__":
    main()
