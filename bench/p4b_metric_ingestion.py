"""P4b metric ingestion: points/s from a trainer's metrics file to the metrics API, vs MLflow log-batch.

Ours: a trainer's `metrics.jsonl` of `--steps` records × 100 metrics is taken in by
`ingest_run` (the supervisor's per-tick call) and every point is then read back
through GET …/metrics: nothing may be missing. MLflow: its tracking server (own
venv, `--workers 2`, SQLite backend) takes `runs/log-batch` requests of 100 metrics
from `wrk -t2 -c32` for `--seconds`; afterwards the history of one metric must
hold one point per successful request.

    python bench/p4b_metric_ingestion.py --mlflow /work/venv-mlflow/bin/mlflow [--database postgres://…]

Goal: ≥ 10× MLflow's metrics/s, nothing lost.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

from p4_reads_vs_mlflow import free_port, post_json, start_mlflow, stop_group, wait_until_up, wrk_figure
from runs_setup import make_project_and_run, parser, setup

METRICS_PER_RECORD = 100


def ours(steps: int) -> tuple[float, int]:
    """(points/s into the database, points the API returns)."""
    from rest_framework.test import APIClient

    from runs.ingest import ingest_run

    user, project, run = make_project_and_run()
    with open(Path(run.output_dir) / "metrics.jsonl", "w") as handle:
        for step in range(1, steps + 1):
            record = {"step": step, **{f"metric_{n}": step / (n + 1) for n in range(METRICS_PER_RECORD)}}
            handle.write(json.dumps(record) + "\n")
    started = time.perf_counter()
    ingest_run(run)
    elapsed = time.perf_counter() - started
    client = APIClient()
    client.force_authenticate(user)
    series = client.get(f"/projects/{project.name}/runs/{run.pk}/metrics").json()["series"]
    returned = sum(len(item["points"]) for item in series)
    return steps * METRICS_PER_RECORD / elapsed, returned


def mlflow(executable: str, scratch: Path, seconds: int) -> tuple[float, int, int]:
    """(metrics/s, failed requests, points missing from the stored history)."""
    port = free_port()
    server = start_mlflow(executable, scratch, port)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/health", {})
        experiment = post_json(f"{base}/api/2.0/mlflow/experiments/create", {"name": "bench"})["experiment_id"]
        run_id = post_json(f"{base}/api/2.0/mlflow/runs/create", {"experiment_id": experiment})["run"]["info"]["run_id"]
        body = {
            "run_id": run_id,
            "metrics": [
                {"key": f"metric_{n}", "value": 1.0 / (n + 1), "timestamp": int(time.time() * 1000), "step": 1}
                for n in range(METRICS_PER_RECORD)
            ],
        }
        script = scratch / "log_batch.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [[{json.dumps(body)}]]\n"
        )
        output = subprocess.run(
            ["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", str(script), f"{base}/api/2.0/mlflow/runs/log-batch"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        requests = int(wrk_figure(r"(\d+) requests in", output))
        failed = int(match.group(1)) if (match := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0
        failed += sum(int(number) for number in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
        elapsed = float(wrk_figure(r"requests in ([\d.]+)s", output))
        history_url = (
            f"{base}/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=metric_0&max_results=1000000"
        )
        with urllib.request.urlopen(history_url, timeout=120) as response:
            stored = len(json.loads(response.read()).get("metrics", []))
        return (requests - failed) * METRICS_PER_RECORD / elapsed, failed, (requests - failed) - stored
    finally:
        stop_group(server.pid)


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--mlflow", default="/work/venv-mlflow/bin/mlflow", help="the mlflow executable")
    arguments.add_argument("--steps", type=int, default=1000)
    arguments.add_argument("--seconds", type=int, default=15)
    options = arguments.parse_args()
    scratch = setup(options.database)

    our_rate, returned = ours(options.steps)
    mlflow_rate, failed, missing = mlflow(options.mlflow, scratch, options.seconds)
    from django.conf import settings

    expected = options.steps * METRICS_PER_RECORD
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(f"platform: {our_rate:,.0f} points/s (metrics.jsonl -> ingest_run), API returned {returned:,}/{expected:,}")
    print(f"MLflow log-batch x{METRICS_PER_RECORD}, wrk -t2 -c32: {mlflow_rate:,.0f} metrics/s,")
    print(f"  {failed} failed requests, {missing} accepted batches missing from the history")
    print(f"ratio: {our_rate / mlflow_rate:.1f}x (goal >= 10x, nothing lost)")


if __name__ == "__main__":
    main()
