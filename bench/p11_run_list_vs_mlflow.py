"""P11 run list: a 10,000-run project's runs table in headless Chromium vs MLflow's UI on a 10,000-run experiment.

Side by side in one run on this machine, loopback only: the console served by gunicorn as
scripts/start serves it (gunicorn.conf.py), MLflow's tracking server (its own venv, SQLite
backend, `--workers 2`) serving its UI. Both hold 10,000 finished runs of a sweep with the
same 6 hyperparameters/params and 4 final metrics each. Debian's Chromium (Playwright, as the
console's browser tests drive it) opens each list `--rounds` times, alternating sides, in one
browser context per side (static files cached after the first load, as for a person coming
back); a load is timed from the navigation's start until the table shows its first run: the
console's page (50 runs a page, two parameter and two metric columns) and MLflow's experiment
page's "Training runs" table (`#/experiments/<id>/runs`; MLflow 3 opens an experiment on its
GenAI overview otherwise). Also timed: the console's table sorted by a final metric and filtered
by a tag.

MLflow's runs are written straight into its SQLite store: one run through MLflow's own client
(so every table has MLflow's rows), then 9,999 copies of those rows under new ids and values,
which takes seconds where 20,000 REST calls would take many minutes.

    python bench/p11_run_list_vs_mlflow.py [--mlflow /work/venv-mlflow/bin/mlflow] [--database postgres://…]

Goal: the console's list in < 1 s at the 50th percentile; MLflow's is the anchor.
"""

from __future__ import annotations

import statistics
import subprocess
import textwrap
import time
from pathlib import Path

from machine import machine
from p4_reads_vs_mlflow import free_port, start_gunicorn, start_mlflow, stop_group, wait_until_up
from runs_setup import parser, setup

RUNS = 10_000
PASSWORD = "bench-password"
TIMEOUT_MS = 120_000  # MLflow's users report that its list slows down or fails at this size
OURS_READY = "#runs-table tbody tr"
MLFLOW_READY = "text=sweep-09999"  # the newest run, first in its table


def seed_ours() -> str:
    """A project of RUNS finished runs; its id. The user `bench` (staff) signs in with PASSWORD."""
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.utils import timezone

    from projects.models import Project
    from runs.models import Run, RunStatus

    user = User.objects.create_user("bench", password=PASSWORD, is_staff=True)
    project = Project.objects.create(name="sweep-10k", created_by=user, default_hyperparameters={"learning_rate": 1e-5})
    start = timezone.now() - timedelta(days=30)
    Run.objects.bulk_create(
        (
            Run(
                project=project,
                name=f"sweep-{number:05d}",
                created_by=user,
                status=RunStatus.COMPLETED,
                hyperparameters=hyperparameters(number),
                metrics=metrics(number),
                tags=["best"] if number % 50 == 0 else [],
                started_at=start + timedelta(minutes=number),
                completed_at=start + timedelta(minutes=number, seconds=600 + number % 300),
                progress=1.0,
            )
            for number in range(RUNS)
        ),
        batch_size=1000,
    )
    return str(project.pk)


def hyperparameters(number: int) -> dict[str, float | int | str]:
    return {
        "learning_rate": round(1e-6 * (1 + number % 100), 8),
        "lora_rank": 8 * (1 + number % 4),
        "per_device_train_batch_size": 2 ** (number % 4),
        "num_train_epochs": 1 + number % 3,
        "warmup_ratio": 0.01 * (number % 10),
        "lr_scheduler_type": "cosine" if number % 2 else "linear",
    }


def metrics(number: int) -> dict[str, float]:
    return {
        "train/loss": 2.0 - (number % 997) / 1000,
        "eval/loss": 2.1 - (number % 991) / 1000,
        "eval/accuracy": (number % 983) / 1000,
        "train/epoch": float(1 + number % 3),
    }


MLFLOW_SEED = textwrap.dedent(
    """
    import json, sqlite3, sys, uuid
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    db, runs, artifacts = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    values = json.load(sys.stdin)
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiment = client.create_experiment("sweep-10k", artifact_location=artifacts)
    first = values[0]
    run = client.create_run(experiment, run_name=first["name"])
    template = run.info.run_id
    client.log_batch(
        template,
        metrics=[Metric(key, value, first["time"], 0) for key, value in first["metrics"].items()],
        params=[Param(key, str(value)) for key, value in first["params"].items()],
        tags=[RunTag("tag", "best")],
    )
    client.set_terminated(template, end_time=first["time"] + 600000)
    connection = sqlite3.connect(db)

    def rows(table):
        cursor = connection.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", [template])
        return [column[0] for column in cursor.description], cursor.fetchall()

    copies = {table: rows(table) for table in ("runs", "params", "metrics", "latest_metrics", "tags")}
    for number, run_values in enumerate(values[1:], start=1):
        run_id = uuid.uuid4().hex
        for table, (columns, template_rows) in copies.items():
            out = []
            for row in template_rows:
                row = dict(zip(columns, row))
                row["run_uuid"] = run_id
                if table == "runs":
                    row["name"] = run_values["name"]
                    row["start_time"] = run_values["time"]
                    row["end_time"] = run_values["time"] + 600000
                    row["artifact_uri"] = row["artifact_uri"].replace(template, run_id)
                elif table == "params":
                    row["value"] = str(run_values["params"][row["key"]])
                elif table in ("metrics", "latest_metrics"):
                    row["value"] = run_values["metrics"][row["key"]]
                    row["timestamp"] = run_values["time"]
                elif table == "tags" and row["key"] == "mlflow.runName":
                    row["value"] = run_values["name"]
                out.append(row)
            if out:
                names = list(out[0])
                connection.executemany(
                    f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                    [tuple(row[name] for name in names) for row in out],
                )
    connection.commit()
    print(experiment)
    """
)


def seed_mlflow(python: str, scratch: Path) -> str:
    """RUNS runs of the same sweep in MLflow's SQLite store; the experiment's id."""
    import json

    start_ms = int((time.time() - 30 * 86400) * 1000)
    values = [
        {"name": f"sweep-{n:05d}", "time": start_ms + n * 60000, "params": hyperparameters(n), "metrics": metrics(n)}
        for n in range(RUNS)
    ]
    done = subprocess.run(
        [python, "-c", MLFLOW_SEED, str(scratch / "mlflow.db"), str(RUNS), str(scratch / "mlartifacts")],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def timed_load(context, url: str, ready: str) -> float:
    """Seconds from navigating to `url` in a new tab until `ready` (a selector) is visible; inf past TIMEOUT_MS."""
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    started = time.perf_counter()
    try:
        page.goto(url, wait_until="commit")
        page.locator(ready).first.wait_for(state="visible")
        return time.perf_counter() - started
    except Exception as error:
        print(f"  {url}: no table within {TIMEOUT_MS / 1000:.0f} s ({type(error).__name__})")
        return float("inf")
    finally:
        page.close()


def summary(name: str, times: list[float]) -> str:
    shown = ", ".join("timeout" if t == float("inf") else f"{t * 1000:.0f}" for t in times)
    return f"{name}: p50 {statistics.median(times) * 1000:,.0f} ms, min {min(times) * 1000:,.0f} ms ({shown} ms)"


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--mlflow", default="/work/venv-mlflow/bin/mlflow", help="the mlflow executable")
    arguments.add_argument("--rounds", type=int, default=9, help="loads of each list, alternating sides")
    options = arguments.parse_args()
    at_start = machine()
    scratch = setup(options.database)
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)  # served by whitenoise, as in production
    (scratch / "runs").mkdir(exist_ok=True)  # the dashboard, where signing in lands, reads its free space
    started = time.perf_counter()
    project_id = seed_ours()
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    experiment_id = seed_mlflow(str(Path(options.mlflow).with_name("python")), scratch)
    mlflow_seconds = time.perf_counter() - started
    print(f"seeded {RUNS:,} runs: ours in {ours_seconds:.1f} s, MLflow's in {mlflow_seconds:.1f} s", flush=True)

    from playwright.sync_api import ViewportSize, sync_playwright

    from console.tests.browser import CHROMIUM, CHROMIUM_ARGS

    ours_port, mlflow_port = free_port(), free_port()
    servers = [
        start_gunicorn(scratch, ours_port),
        start_mlflow(options.mlflow, scratch, mlflow_port),
    ]
    ours_base, mlflow_base = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{mlflow_port}"
    columns = "col=hp:learning_rate&col=hp:lora_rank&col=m:train/loss&col=m:eval/loss"
    lists = {
        "console runs table": f"{ours_base}/console/projects/{project_id}/runs/?{columns}",
        "console, sorted by eval/loss, tag best": f"{ours_base}/console/projects/{project_id}/runs/?{columns}"
        "&sort=m:eval/loss&tag=best",
        "MLflow experiment page": f"{mlflow_base}/#/experiments/{experiment_id}/runs",
    }
    results: dict[str, list[float]] = {name: [] for name in lists}
    try:
        wait_until_up(f"{ours_base}/console/login/", {})
        wait_until_up(f"{mlflow_base}/health", {})
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            screen: ViewportSize = {"width": 1440, "height": 900}
            ours, theirs = browser.new_context(viewport=screen), browser.new_context(viewport=screen)
            login = ours.new_page()
            login.goto(f"{ours_base}/console/login/")
            login.locator("#id_username").fill("bench")
            login.locator("#id_password").fill(PASSWORD)
            login.locator("#id_password").press("Enter")
            login.wait_for_url("**/console/")
            login.close()
            # One load each to warm up: the first of either side fills caches, its own and the browser's.
            timed_load(ours, lists["console runs table"], OURS_READY)
            timed_load(theirs, lists["MLflow experiment page"], MLFLOW_READY)
            for _ in range(options.rounds):
                for name, url in lists.items():
                    context, ready = (theirs, MLFLOW_READY) if "MLflow" in name else (ours, OURS_READY)
                    results[name].append(timed_load(context, url, ready))
            browser.close()
    finally:
        for server in servers:
            stop_group(server.pid)
    from django.conf import settings

    print(f"at the start, {at_start}\nat the end,   {machine()}")
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}; {RUNS:,} runs each side")
    for name, times in results.items():
        print(summary(name, times))
    console = statistics.median(results["console runs table"])
    mlflow = statistics.median(results["MLflow experiment page"])
    print(f"console p50 / MLflow p50: {console / mlflow:.2f} (goal: console < 1000 ms)")


if __name__ == "__main__":
    main()
