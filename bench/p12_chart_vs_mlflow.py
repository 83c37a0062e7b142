"""P12 charts: a run's 100,000-point metric drawn in the browser, our console vs MLflow's UI (headless Chromium).

Side by side in one run on this machine, loopback only: our console served by gunicorn as
scripts/start serves it (gunicorn.conf.py), and MLflow's tracking server with its UI (its
own venv, SQLite backend, `--workers 1`). Each holds one run whose `train/loss` has
100,000 points (steps 1 to 100,000, a noisy falling curve), logged to MLflow through
`log-batch` 1,000 at a time as a trainer's callback would. Debian's Chromium, driven by
Playwright as the console's browser tests drive it, opens each run's page in a fresh
browser context (an empty cache) for `--rounds` alternating rounds; a round's figure is
the time from the start of the navigation until the loss chart is drawn, read inside the
page (`performance.now()` at the first animation frame that finds it drawn):

- ours: the run page, until the `loss` chart's canvas has been drawn by uPlot
  (charts.js marks the chart `data-drawn` in uPlot's draw hook) from the series the
  server downsampled (at most 2,000 points, each step bucket's extremes kept);
- MLflow's: the run's "Model metrics" tab, until the chart of `train/loss` has drawn its line
  (Plotly's `path.js-line` with a path), from the points MLflow's UI asked for (its
  `get-history-bulk-interval`, 320 points sampled by the server).

    python bench/p12_chart_vs_mlflow.py [--rounds 9] [--mlflow /work/venv-mlflow/bin/mlflow] [--database postgres://…]

Goal: ours < 1 s (p50), and not slower than MLflow's.
"""

from __future__ import annotations

import math
import statistics
import time
from datetime import timedelta

from machine import machine
from p4_reads_vs_mlflow import free_port, post_json, start_gunicorn, start_mlflow, stop_group, wait_until_up
from runs_setup import make_project_and_run, parser, setup

POINTS = 100_000
BATCH = 1000  # MLflow's log-batch takes at most 1,000 metrics a request
PASSWORD = "bench-password"
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 120_000


def loss_at(step: int) -> float:
    """A falling loss with some noise, the same on both sides."""
    return 2.5 * math.exp(-step / 30_000) + 0.2 + 0.05 * math.sin(step * 0.37)


def seed_ours() -> str:
    """Our run with its 100,000 points; returns the run page's path."""
    from django.utils import timezone

    from runs.models import MetricPoint, Run, RunStatus

    user, project, run = make_project_and_run("chart-bench")
    user.set_password(PASSWORD)
    user.save()
    start = timezone.now() - timedelta(seconds=POINTS)
    MetricPoint.objects.bulk_create(
        (
            MetricPoint(
                run=run, name="train/loss", step=step, value=loss_at(step), timestamp=start + timedelta(seconds=step)
            )
            for step in range(1, POINTS + 1)
        ),
        batch_size=5000,
    )
    Run.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED, progress=1.0)
    return f"/console/projects/{project.pk}/runs/{run.pk}/"


def seed_mlflow(base: str) -> tuple[str, str]:
    """MLflow's run with the same 100,000 points; returns its experiment and run ids."""
    experiment = post_json(f"{base}/api/2.0/mlflow/experiments/create", {"name": "chart-bench"})["experiment_id"]
    run_id = post_json(f"{base}/api/2.0/mlflow/runs/create", {"experiment_id": experiment})["run"]["info"]["run_id"]
    start = int((time.time() - POINTS) * 1000)
    for first in range(1, POINTS + 1, BATCH):
        metrics = [
            {"key": "train/loss", "value": loss_at(step), "timestamp": start + step * 1000, "step": step}
            for step in range(first, min(first + BATCH, POINTS + 1))
        ]
        post_json(f"{base}/api/2.0/mlflow/runs/log-batch", {"run_id": run_id, "metrics": metrics})
    post_json(
        f"{base}/api/2.0/mlflow/runs/update",
        {"run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000)},
    )
    return experiment, run_id


# Each returns performance.now() (ms since the navigation started) at the first animation frame it holds.
OURS_DRAWN = (
    "() => document.querySelector(\"#charts .chart[data-metric='loss'][data-drawn] canvas\") && performance.now()"
)
MLFLOW_DRAWN = (  # its run holds one metric: the first Plotly line with a path is train/loss's
    "() => [...document.querySelectorAll('.js-plotly-plot path.js-line')]"
    ".some(line => (line.getAttribute('d') || '').length > 20) && performance.now()"
)


def time_to_draw(browser, url: str, drawn: str, cookies: list | None = None) -> float:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    if cookies:
        context.add_cookies(cookies)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(url, wait_until="commit")
        return float(page.wait_for_function(drawn, polling="raf").json_value())
    finally:
        context.close()


def our_session(browser, base: str) -> list:
    """Log in once; each round's fresh context gets the session cookie (and nothing cached)."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/console/login/")
    page.locator("#id_username").fill("bench")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url("**/console/")
    cookies = context.cookies()
    context.close()
    return cookies


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--mlflow", default="/work/venv-mlflow/bin/mlflow", help="the mlflow executable")
    arguments.add_argument("--rounds", type=int, default=9, help="alternating rounds of each side")
    options = arguments.parse_args()
    at_start = machine()
    scratch = setup(options.database)
    from django.core.management import call_command

    call_command("collectstatic", "--noinput", verbosity=0)  # DEBUG=0: whitenoise serves the collected files
    run_path = seed_ours()
    ours_port, mlflow_port = free_port(), free_port()
    servers = [
        start_gunicorn(scratch, ours_port),
        # One worker: uvicorn's supervisor of several kills the workers it finds slow on a busy machine, and one
        # browser opening one page needs no more.
        start_mlflow(options.mlflow, scratch, mlflow_port, workers=1),
    ]
    ours: list[float] = []
    theirs: list[float] = []
    try:
        ours_base, mlflow_base = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{mlflow_port}"
        wait_until_up(f"{ours_base}/console/login/", {})
        wait_until_up(f"{mlflow_base}/health", {})
        experiment, mlflow_run = seed_mlflow(mlflow_base)
        mlflow_url = f"{mlflow_base}/#/experiments/{experiment}/runs/{mlflow_run}/model-metrics"
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            cookies = our_session(browser, ours_base)
            time_to_draw(browser, ours_base + run_path, OURS_DRAWN, cookies)  # warm both up
            time_to_draw(browser, mlflow_url, MLFLOW_DRAWN)
            for _ in range(options.rounds):  # alternating: a load change on a shared machine hits both
                ours.append(time_to_draw(browser, ours_base + run_path, OURS_DRAWN, cookies))
                theirs.append(time_to_draw(browser, mlflow_url, MLFLOW_DRAWN))
            browser.close()
    finally:
        for server in servers:
            stop_group(server.pid)
    from django.conf import settings

    print(f"at the start, {at_start}\nat the end,   {machine()}")
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}; Chromium {CHROMIUM}, 1440x900")
    print(f"a {POINTS:,}-point series, time from navigation until its chart is drawn, {options.rounds} rounds:")
    for name, figures in (("platform run page  ", ours), ("MLflow model-metrics", theirs)):
        print(
            f"  {name}: p50 {statistics.median(figures):7.0f} ms (min {min(figures):.0f}, max {max(figures):.0f});"
            f" rounds: {', '.join(f'{figure:.0f}' for figure in figures)}"
        )
    print(
        f"  ratio (MLflow p50 / ours p50): {statistics.median(theirs) / statistics.median(ours):.2f}x"
        " (goal: ours < 1000 ms)"
    )


if __name__ == "__main__":
    main()
