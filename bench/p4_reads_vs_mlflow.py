"""P4 reads: GET /projects/{ref}/runs/{id} under gunicorn (2 workers) vs MLflow's runs/get, with wrk.

Side by side in one run on this machine, loopback only: our API served by gunicorn
as scripts/start serves it (gunicorn.conf.py: 2 workers of 4 threads), MLflow's
tracking server (its own venv, `--workers 2`), each hit by `wrk -t2 -c32` for
`--seconds`, in `--rounds` alternating rounds (a load change on a shared machine
then hits both). Like with like: on SQLite (the default) each side has a SQLite
file; with `--database postgres://…/NAME` each has a PostgreSQL database on that
server, ours NAME and MLflow's NAME_mlflow, both dropped and created empty at the
start (MLflow needs psycopg2 in its venv: `pip install psycopg2-binary`). Each
server holds one run of similar size: 20 hyperparameters/params, 20 latest metric
values, 10 tags/artifacts (ours also returns its 20 most recent log lines). Besides
requests/s it prints each server's CPU time per request (all its processes, from
/proc), which a busy machine disturbs far less than the request rate.

Two runs are read on each side, in alternating rounds: one that never changes, and
one being written to at a trainer's pace while it is read. Ours is a real run of the
stand-in trainer (runs/tests/fixtures/fake_trainer.py, a logged step every
TRAINER_PACE_SECONDS, a checkpoint every 200 steps), started and ingested by the real
supervision loop (`manage.py supervise runs`); MLflow's gets the same step's metrics
through `log-batch` at the same pace, as a trainer's MLflow callback sends them.

    python bench/p4_reads_vs_mlflow.py --mlflow /work/venv-mlflow/bin/mlflow [--database postgres://…]

Goals: ≥ 2× MLflow's requests/s on the unchanging run and ≥ 3× on the run being
written to, 0 platform errors in both.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

from machine import machine
from runs_setup import REPO, make_project_and_run, parser, recreate_postgres_database, setup


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_group(pgid: int) -> None:
    """SIGTERM a server's process group, SIGKILL what is left after 30 s (MLflow's job workers)."""
    from llmplatform.processes import terminate_group

    terminate_group(pgid, grace=30)


def wait_until_up(url: str, headers: dict[str, str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {timeout} s")
        time.sleep(0.5)


# MLflow starts its job runner (several more processes in its group) a minute or two after it first
# answers; a round measured meanwhile measures that start, with errors, not runs/get.
MLFLOW_SETTLED = "mlflow.server.jobs.utils: Registered"


def wait_for_line(log: Path, text: str, timeout: float) -> bool:
    """Whether `text` appears in the file `log` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


def post_json(url: str, body: dict, attempts: int = 3) -> dict:
    """POST with a retry: under load uvicorn's supervisor restarts MLflow workers it finds slow."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read() or b"{}")
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


def start_gunicorn(scratch: Path, port: int) -> subprocess.Popen:
    """The platform as scripts/start serves it (gunicorn.conf.py's workers and threads), in its own
    process group so that it is stopped whole, workers and all."""
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "llmplatform.wsgi", "-b", f"127.0.0.1:{port}"],
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "llmplatform.settings"},
        stdout=open(scratch / "gunicorn.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def sqlite_store(scratch: Path) -> str:
    return f"sqlite:///{scratch / 'mlflow.db'}"


def mlflow_backend(database: str, scratch: Path) -> str:
    """MLflow's backend store on the platform's kind of database: a SQLite file in `scratch`, or beside
    the platform's PostgreSQL database (`--database`) one of its own on the same server, created empty."""
    if database == "sqlite":
        return sqlite_store(scratch)
    server, name = database.split("?", 1)[0].rsplit("/", 1)
    url = f"{server}/{name}_mlflow"
    recreate_postgres_database(url)
    return url.replace("postgres://", "postgresql+psycopg2://", 1)  # SQLAlchemy's name, the driver in MLflow's venv


def start_mlflow(
    executable: str, scratch: Path, port: int, workers: int = 2, backend: str | None = None
) -> subprocess.Popen:
    """MLflow's tracking server on loopback, in its own process group; its store `backend`, by default a
    SQLite file in `scratch`."""
    return subprocess.Popen(
        [
            executable,
            "server",
            "--backend-store-uri",
            backend or sqlite_store(scratch),
            "--default-artifact-root",
            str(scratch / "mlartifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        cwd=scratch,
        stdout=open(scratch / "mlflow.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped whole, workers and all
    )


class Round(NamedTuple):
    rate: float  # requests/s
    errors: int  # socket errors + non-2xx
    latency: str  # wrk's mean and max
    cpu_ms: float  # the server's CPU time per request, all its processes
    split: str  # each busy process's share of that CPU time, largest first


def group_cpu_seconds(pgid: int) -> dict[int, float]:
    """User + system CPU time of each live process in process group `pgid`, by pid."""
    seconds = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ..., utime (12), stime (13)
            seconds[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def cpu_split(before: dict[int, float], after: dict[int, float]) -> tuple[float, str]:
    """The group's CPU time between two readings, and how it fell on its processes: two workers that
    share the load evenly show about 50/50, one that holds most of wrk's connections 90/10."""
    used = {pid: seconds - before.get(pid, 0.0) for pid, seconds in after.items()}
    total = sum(used.values())
    shares = sorted((100 * seconds / total for seconds in used.values() if total), reverse=True)
    return total, "/".join(f"{share:.0f}" for share in shares if share >= 1) + "%"


def wrk_figure(pattern: str, output: str) -> str:
    """The first group of `pattern` in wrk's report; a failure that shows the report when it is not there."""
    found = re.search(pattern, output)
    if found is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{output}")
    return found.group(1)


def wrk(url: str, seconds: int, headers: dict[str, str], server_pgid: int) -> Round:
    argv = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        argv[1:1] = ["-H", f"{name}: {value}"]
    cpu_before = group_cpu_seconds(server_pgid)
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    cpu, split = cpu_split(cpu_before, group_cpu_seconds(server_pgid))
    rate = float(wrk_figure(r"Requests/sec:\s+([\d.]+)", output))
    requests = int(wrk_figure(r"(\d+) requests in", output))
    errors = sum(int(number) for number in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    errors += int(match.group(1)) if (match := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0
    latency = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.MULTILINE)
    # A server so starved that it answered nothing in the round has no CPU time per request.
    cpu_ms = cpu * 1000 / requests if requests else float("nan")
    return Round(rate, errors, f"mean {latency.group(1)}, max {latency.group(3)}" if latency else "", cpu_ms, split)


def seed_our_run():
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from runs.models import Artifact, LogLine, Run

    user, project, run = make_project_and_run()
    token, _ = Token.objects.get_or_create(user=user)
    metrics = {f"train/metric_{n}": 1.0 / (n + 1) for n in range(20)}
    hyperparameters = {f"param_{n}": n * 0.5 for n in range(20)}
    Run.objects.filter(pk=run.pk).update(metrics=metrics, hyperparameters=hyperparameters, next_log_seq=51)
    Artifact.objects.bulk_create(
        Artifact(run=run, name=f"checkpoint-{n}", type="checkpoint", path=f"{run.output_dir}/checkpoint-{n}", step=n)
        for n in range(10)
    )
    now = timezone.now()
    LogLine.objects.bulk_create(
        LogLine(run=run, seq=n, timestamp=now, level="INFO", message=f"[INFO|trainer.py:1] >> step {n} ok")
        for n in range(1, 51)
    )
    return token.key, f"/projects/{project.name}/runs/{run.pk}"


TRAINER_PACE_SECONDS = 0.5


def launch_written_run(scratch: Path) -> tuple[str, str, subprocess.Popen]:
    """A run of the stand-in trainer, started and ingested by the real supervision loop
    (returned, to be stopped); its id and API path once it is running and has logged."""
    from django.conf import settings
    from django.contrib.auth.models import User

    from projects.services import create_project
    from runs.models import Run, RunStatus
    from runs.services import create_run

    training = Path(settings.HOST_TRAINING_DIR)
    (training / "datasets").mkdir(parents=True, exist_ok=True)
    (training / "configs").mkdir(exist_ok=True)
    (training / "datasets" / "tiny.jsonl").write_text('{"messages": []}\n')
    (training / "configs" / "paced.yaml").write_text(
        f"max_steps: 1000000\nstep_seconds: {TRAINER_PACE_SECONDS}\nlogging_steps: 1\nsave_steps: 200\n"
    )
    user = User.objects.get(username="bench")
    fields = {"name": "written", "dataset_name": "datasets/tiny.jsonl", "training_yaml_name": "configs/paced.yaml"}
    run = create_run(project=create_project(actor=user, fields=fields), actor=user, name="paced")
    supervisor = subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "supervise", "runs"],
        cwd=REPO,
        stdout=open(scratch / "supervise.log", "wb"),  # noqa: SIM115 (lives as long as the process)
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING, next_log_seq__gt=10).exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the paced run did not run and log within 120 s; see {scratch / 'supervise.log'}")
        time.sleep(0.5)
    return str(run.pk), f"/projects/written/runs/{run.pk}", supervisor


def stop_written_run(run_id: str, supervisor: subprocess.Popen) -> None:
    from runs.models import Run
    from runs.services import cancel_run

    stop_group(supervisor.pid)
    cancel_run(run=Run.objects.get(pk=run_id), actor=None)


class MlflowTrainer(threading.Thread):
    """Logs a step's metrics to an MLflow run every TRAINER_PACE_SECONDS, as a trainer's callback does."""

    def __init__(self, base: str, run_id: str) -> None:
        super().__init__(daemon=True)
        self.url, self.run_id = f"{base}/api/2.0/mlflow/runs/log-batch", run_id
        self.stopped = threading.Event()

    def run(self) -> None:
        step = 0
        while not self.stopped.wait(TRAINER_PACE_SECONDS):
            step += 1
            now = int(time.time() * 1000)
            values = {"loss": 2.0 / step, "learning_rate": 5e-5, "grad_norm": 1.0 + 1 / step, "epoch": step / 100}
            metrics = [{"key": key, "value": value, "timestamp": now, "step": step} for key, value in values.items()]
            post_json(self.url, {"run_id": self.run_id, "metrics": metrics})


def seed_mlflow_run(base: str, experiment_name: str) -> str:
    experiment = post_json(f"{base}/api/2.0/mlflow/experiments/create", {"name": experiment_name})["experiment_id"]
    run_id = post_json(f"{base}/api/2.0/mlflow/runs/create", {"experiment_id": experiment})["run"]["info"]["run_id"]
    now = int(time.time() * 1000)
    post_json(
        f"{base}/api/2.0/mlflow/runs/log-batch",
        {
            "run_id": run_id,
            "params": [{"key": f"param_{n}", "value": str(n * 0.5)} for n in range(20)],
            "metrics": [
                {"key": f"train/metric_{n}", "value": 1.0 / (n + 1), "timestamp": now, "step": 1} for n in range(20)
            ],
            "tags": [{"key": f"tag_{n}", "value": f"checkpoint-{n}"} for n in range(10)],
        },
    )
    return run_id


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--mlflow", default="/work/venv-mlflow/bin/mlflow", help="the mlflow executable")
    arguments.add_argument("--seconds", type=int, default=15, help="length of each wrk round")
    arguments.add_argument("--rounds", type=int, default=5, help="alternating rounds of each server")
    options = arguments.parse_args()
    at_start = machine()
    from runs.tests.fixtures import fake_trainer_command

    os.environ["TRAINING_COMMAND"] = fake_trainer_command()
    scratch = setup(options.database, fresh=True)
    token, path = seed_our_run()
    mlflow_store = mlflow_backend(options.database, scratch)

    ours_port, mlflow_port = free_port(), free_port()
    servers = [
        start_gunicorn(scratch, ours_port),
        start_mlflow(options.mlflow, scratch, mlflow_port, backend=mlflow_store),
    ]
    written_run, written_path, supervisor = launch_written_run(scratch)
    mlflow_trainer = None
    try:
        auth = {"Authorization": f"Token {token}"}
        mlflow_base = f"http://127.0.0.1:{mlflow_port}"
        wait_until_up(f"http://127.0.0.1:{ours_port}{path}", auth)
        wait_until_up(f"{mlflow_base}/health", {})
        mlflow_get = f"{mlflow_base}/api/2.0/mlflow/runs/get?run_id="
        mlflow_written = seed_mlflow_run(mlflow_base, "written")
        mlflow_trainer = MlflowTrainer(mlflow_base, mlflow_written)
        mlflow_trainer.start()
        ours_pgid, mlflow_pgid = servers[0].pid, servers[1].pid
        mlflow_unchanging = seed_mlflow_run(mlflow_base, "unchanging")
        urls = {
            "unchanging run": (f"http://127.0.0.1:{ours_port}{path}", mlflow_get + mlflow_unchanging),
            "run being written": (f"http://127.0.0.1:{ours_port}{written_path}", mlflow_get + mlflow_written),
        }
        settled = wait_for_line(scratch / "mlflow.log", MLFLOW_SETTLED, timeout=240)
        for ours_url, mlflow_url in urls.values():  # warm both up (MLflow's first seconds are its slowest)
            wrk(ours_url, 5, auth, ours_pgid)
            wrk(mlflow_url, 5, {}, mlflow_pgid)
        # Alternating rounds: a load change on a shared machine hits both sides alike.
        rounds: dict[str, list[tuple[Round, Round]]] = {mode: [] for mode in urls}
        for _ in range(options.rounds):
            for mode, (ours_url, mlflow_url) in urls.items():
                ours = wrk(ours_url, options.seconds, auth, ours_pgid)
                rounds[mode].append((ours, wrk(mlflow_url, options.seconds, {}, mlflow_pgid)))
    finally:
        if mlflow_trainer:
            mlflow_trainer.stopped.set()
        stop_written_run(written_run, supervisor)
        for server in servers:
            stop_group(server.pid)
    from django.conf import settings

    print(f"at the start, {at_start}\nat the end,   {machine()}")
    ours_store = settings.DATABASES["default"]
    ours_backend = f"{ours_store['ENGINE'].rsplit('.', 1)[-1]} ({Path(ours_store['NAME']).name})"
    mlflow_backend_shown = f"{mlflow_store.split(':', 1)[0]} ({mlflow_store.rsplit('/', 1)[-1]})"
    print(f"database: platform {ours_backend}, MLflow {mlflow_backend_shown}  wrk -t2 -c32 -d{options.seconds}s")
    if not settled:
        print(f"MLflow's log never said {MLFLOW_SETTLED!r}: its first round may measure its job runner starting")
    for mode, goal in (("unchanging run", 2), ("run being written", 3)):
        report(mode, rounds[mode], goal)


def report(mode: str, rounds: list[tuple[Round, Round]], goal: int) -> None:
    print(f"{mode}:")
    for number, (ours, mlflow) in enumerate(rounds, 1):
        print(f"  round {number}:")
        for name, side in (("platform GET run", ours), ("MLflow runs/get ", mlflow)):
            print(
                f"    {name}: {side.rate:6,.0f} req/s, {side.errors} errors, latency {side.latency},"
                f" server CPU {side.cpu_ms:.2f} ms/request ({side.split} by process)"
            )
        print(f"    ratio: {ours.rate / mlflow.rate:.2f}x req/s, {mlflow.cpu_ms / ours.cpu_ms:.2f}x CPU per request")
    rates = sorted(ours.rate / mlflow.rate for ours, mlflow in rounds)
    cpus = sorted(mlflow.cpu_ms / ours.cpu_ms for ours, mlflow in rounds)
    print(
        f"  median ratio over {len(rounds)} rounds: {rates[len(rates) // 2]:.2f}x req/s"
        f" (spread {rates[0]:.2f}-{rates[-1]:.2f}x), {cpus[len(cpus) // 2]:.2f}x CPU per request"
        f" (spread {cpus[0]:.2f}-{cpus[-1]:.2f}x); errors: platform {sum(ours.errors for ours, _ in rounds)},"
        f" MLflow {sum(mlflow.errors for _, mlflow in rounds)} (goal >= {goal}x, 0 platform errors)"
    )


if __name__ == "__main__":
    main()
