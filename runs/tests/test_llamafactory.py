"""The platform with the real, unmodified LLaMA-Factory behind the default command.

The training directory is a LLaMA-Factory team's: `run_train_full_sft.sh` (the default
TRAINING_COMMAND runs it) starts `llamafactory-cli train` of the environment
scripts/llamafactory_venv.sh builds (requirements-llamafactory.txt), on the CPU, on a tiny
random Llama saved there with `save_pretrained` (runs/tests/fixtures/tiny_model.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings as django_settings
from django.db import connection

from datasets.tests.conftest import jsonl, upload
from llmplatform.testing import free_port, manage_py, subprocess_env, wait_for
from runs.ingest.times import prefix_time
from runs.models import LogLine, MetricPoint, Run

pytestmark = [pytest.mark.trainer, pytest.mark.slow]

BASE_DIR = Path(django_settings.BASE_DIR)
TINY_MODEL = "models/tiny-llama"
# A LLaMA-Factory team's start script: what `bash run_train_full_sft.sh {training_yaml}` runs.
START_SCRIPT = """#!/usr/bin/env bash
set -euo pipefail
export HF_HUB_OFFLINE=1 HF_HOME="$PWD/.hf" OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
exec {venv}/bin/llamafactory-cli train "$1"
"""
# What every config here holds: LoRA SFT of the tiny model, a step's loss logged as it is made.
LLAMAFACTORY_CONFIG = {
    "model_name_or_path": TINY_MODEL,
    "stage": "sft",
    "do_train": True,
    "finetuning_type": "lora",
    "lora_target": "all",
    "template": "default",
    "cutoff_len": 128,
    "logging_steps": 1,
    "save_steps": 1000,
    "report_to": "none",
}


def conversation(index: int) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": f"What is {index} plus one?"},
            {"role": "assistant", "content": f"{index} plus one is {index + 1}."},
        ]
    }


def instruction(index: int, *, words: int = 4) -> dict[str, str]:
    return {"instruction": f"Count from {index}", "input": "", "output": " ".join(str(index + n) for n in range(words))}


@pytest.fixture(scope="session")
def llamafactory_venv() -> Path:
    """The environment of requirements-llamafactory.txt, built once (minutes) and kept under var/."""
    built = subprocess.run(
        [str(BASE_DIR / "scripts" / "llamafactory_venv.sh")], capture_output=True, text=True, timeout=1800
    )
    if built.returncode != 0:
        pytest.skip(f"LLaMA-Factory's environment could not be built: {built.stderr.strip()[-1500:]}")
    return Path(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def tiny_model(llamafactory_venv, tmp_path_factory) -> Path:
    """A tiny random Llama and its tokenizer, written by the transformers LLaMA-Factory runs with."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    texts = folder.parent / "tiny-llama-texts.jsonl"
    records = [conversation(index) for index in range(64)] + [instruction(index) for index in range(64)]
    texts.write_text("".join(json.dumps(record) + "\n" for record in records))
    script = BASE_DIR / "runs" / "tests" / "fixtures" / "tiny_model.py"
    made = subprocess.run(
        [str(llamafactory_venv / "bin" / "python"), str(script), str(folder), str(texts)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert made.returncode == 0, made.stderr[-3000:]
    return folder


@pytest.fixture
def one_database() -> None:
    """Each run of the real trainer takes half a minute or more: they train on one database of the two."""
    if connection.vendor != "sqlite":
        pytest.skip("trains on SQLite's half of the suite only: the same trainer and ingest, minutes more here")


@pytest.fixture
def llamafactory_dir(training_dir, settings, llamafactory_venv, tiny_model) -> Path:
    """The training directory of a team that trains with LLaMA-Factory, under the default command."""
    settings.TRAINING_COMMAND = "bash run_train_full_sft.sh {training_yaml}"
    (training_dir / "run_train_full_sft.sh").write_text(START_SCRIPT.format(venv=llamafactory_venv))
    (training_dir / "configs").mkdir(parents=True, exist_ok=True)
    model = training_dir / TINY_MODEL
    model.mkdir(parents=True)
    for path in tiny_model.iterdir():
        (model / path.name).write_bytes(path.read_bytes())
    return training_dir


def uploaded(client, name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """A validated upload of `records` to a new SFT dataset: its report (`path`, `stats`...)."""
    dataset = client.post("/v1/datasets", {"name": name, "task_type": "sft"}, format="json").json()["id"]
    response = upload(client, dataset, f"{name}.jsonl", jsonl(*records))
    assert response.status_code == 201, response.content
    return client.get(f"/v1/datasets/{dataset}/files/{response.json()['upload_id']}").json()


def create_project(client, training_dir: Path, name: str, dataset: str, **config: Any) -> str:
    """A LLaMA-Factory project (its command says so) whose YAML is LLAMAFACTORY_CONFIG with `config` over it."""
    yaml_name = f"configs/{name}.yaml"
    (training_dir / yaml_name).write_text(yaml.safe_dump({**LLAMAFACTORY_CONFIG, **config}))
    fields = {"name": name, "task_type": "sft", "dataset_name": dataset, "training_yaml_name": yaml_name}
    response = client.post("/projects", fields, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["trainer"] == "llamafactory-0.9.x"
    return f"/projects/{name}/runs"


def finish(client, url: str, supervisor) -> dict[str, Any]:
    """Supervise the run until it ends; its detail then, which must say `completed`."""

    def ended() -> dict[str, Any] | None:
        detail = client.get(url).json()
        return detail if detail["status"] in {"completed", "failed", "cancelled"} else None

    done = wait_for(ended, between=supervisor.tick, timeout=300, interval=0.5, what="the LLaMA-Factory run to end")
    assert done["status"] == "completed", "\n".join(
        item["message"] for item in client.get(f"{url}/logs", {"page_size": 500}).json()["items"]
    )[-6000:]
    return done


def trained_steps(run_id: str) -> int:
    state = json.loads((Path(Run.objects.get(pk=run_id).output_dir) / "trainer_state.json").read_text())
    return state["global_step"]


def readme_body(pattern: str) -> dict[str, Any]:
    """The JSON body of one of the README's curl examples."""
    match = re.search(pattern + r"[^']*'(\{.*?\})'", (BASE_DIR / "README.md").read_text(), re.DOTALL)
    assert match, f"the README has no curl example matching {pattern!r}"
    return json.loads(match.group(1))


@pytest.mark.django_db
def test_the_readmes_curl_example_trains_with_llamafactory(
    one_database, owner_client, llamafactory_dir, supervisor, django_capture_on_commit_callbacks
):
    project = readme_body(r"-X POST \$BASE/projects -d")
    run = readme_body(r"-X POST \$BASE/projects/qwen-finetune/runs")
    # The team's files the project names: its YAML, and its dataset declared in its own dataset_info.json.
    (llamafactory_dir / "datasets").mkdir()
    (llamafactory_dir / project["dataset_name"]).write_text(
        "".join(json.dumps(conversation(index)) + "\n" for index in range(32))
    )
    entry = {"file_name": "qwen_demo.jsonl", "formatting": "sharegpt", "columns": {"messages": "messages"}}
    entry["tags"] = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}
    (llamafactory_dir / "datasets" / "dataset_info.json").write_text(json.dumps({"qwen_demo": entry}))
    config = {**LLAMAFACTORY_CONFIG, "dataset": "qwen_demo", "dataset_dir": "datasets"}
    (llamafactory_dir / project["training_yaml_name"]).write_text(yaml.safe_dump(config))

    created = owner_client.post("/projects", project, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["trainer"] == "llamafactory-0.9.x"
    with django_capture_on_commit_callbacks(execute=True):
        launched = owner_client.post(f"/projects/{project['name']}/runs", run, format="json")
    assert launched.status_code == 201, launched.content

    url = f"/projects/{project['name']}/runs/{launched.json()['id']}"
    done = finish(owner_client, url, supervisor)
    # 32 records, 16 a batch (the project's default), 3 epochs (the run's).
    assert trained_steps(done["id"]) == 6
    losses = owner_client.get(f"{url}/metrics", {"name": "train/loss"}).json()["series"][0]["points"]
    assert [point["step"] for point in losses] == [1, 2, 3, 4, 5, 6]
    effective = yaml.safe_load(Run.objects.get(pk=done["id"]).config_path.read_text())
    assert (effective["learning_rate"], effective["per_device_train_batch_size"]) == (2e-5, 16)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "records", "formatting"),
    [
        ("support pairs", [instruction(index) for index in range(24)], "alpaca"),
        ("support chats", [conversation(index) for index in range(24)], "sharegpt"),
    ],
)
def test_an_uploaded_file_trains_through_the_dataset_info_the_platform_writes(
    one_database,
    owner_client,
    llamafactory_dir,
    supervisor,
    django_capture_on_commit_callbacks,
    name,
    records,
    formatting,
):
    file = uploaded(owner_client, name, records)
    assert file["stats"]["llamafactory"]["formatting"] == formatting
    runs = create_project(owner_client, llamafactory_dir, "uploads", file["path"], max_steps=3)
    assert not list(llamafactory_dir.rglob("dataset_info.json")), "nothing written by hand"

    with django_capture_on_commit_callbacks(execute=True):
        launched = owner_client.post(runs, {}, format="json")
    assert launched.status_code == 201, launched.content
    assert launched.json()["warnings"] == []

    done = finish(owner_client, f"{runs}/{launched.json()['id']}", supervisor)
    assert trained_steps(done["id"]) == 3
    run = Run.objects.get(pk=done["id"])
    info = json.loads((Path(run.run_dir) / "dataset_info.json").read_text())
    assert [entry["formatting"] for entry in info.values()] == [formatting]
    # LLaMA-Factory read every record of the file it was pointed at.
    log = "\n".join(LogLine.objects.filter(run=run).values_list("message", flat=True))
    assert re.search(rf"Num examples = {len(records)}\b", log), log[-4000:]


@pytest.mark.django_db
def test_a_launch_with_records_longer_than_cutoff_len_is_warned(owner_client, llamafactory_dir):
    records = [instruction(index) for index in range(8)] + [instruction(index, words=200) for index in range(4)]
    file = uploaded(owner_client, "long answers", records)
    runs = create_project(owner_client, llamafactory_dir, "long", file["path"], cutoff_len=64)

    launched = owner_client.post(runs, {}, format="json")

    assert launched.status_code == 201, launched.content
    [warning] = launched.json()["warnings"]
    assert warning["code"] == "records_over_cutoff_len"
    assert (warning["records"], warning["records_over_cutoff_len"], warning["cutoff_len"]) == (12, 4, 64)
    assert warning["model"] == TINY_MODEL


# --- the trainer's own time across kill -9 of the web server and the worker -----------------------


class Platform:
    """The platform as scripts/start runs it, a gunicorn and a qcluster on this test's database; each
    `start` is a new pair, `kill` sends SIGKILL to every process of both (the trainer lives in its own session)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.port = free_port()
        self.processes: list[subprocess.Popen] = []

    def start(self, name: str) -> None:
        web = [sys.executable, "-m", "gunicorn", "llmplatform.wsgi", "-b", f"127.0.0.1:{self.port}"]
        for argv, log in ((web, f"{name}-web.log"), (manage_py("qcluster"), f"{name}-qcluster.log")):
            with (self.logs / log).open("ab") as output:
                self.processes.append(
                    subprocess.Popen(
                        argv,
                        cwd=BASE_DIR,
                        env=self.env,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        wait_for(lambda: self.answers("/healthz"), timeout=60, what="gunicorn to answer")

    def kill(self) -> None:
        for process in self.processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.processes = []

    def answers(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5):
                return True
        except OSError:
            return False

    def call(self, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture
def platform(llamafactory_dir, settings, tmp_path) -> Iterator[Platform]:
    env = subprocess_env(
        TRAINING_COMMAND=settings.TRAINING_COMMAND,
        LLMP_HOSTNAME=settings.HOSTNAME,
        WEB_WORKERS="1",
        Q_WORKERS="2",
        SUPERVISOR_INTERVAL_SECONDS="0.2",
    )
    started = Platform(env, tmp_path)
    try:
        yield started
    finally:
        for process in started.processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in started.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def watch_records(path: Path, seen: dict[int, float], stop: threading.Event) -> Callable[[], None]:
    """Note when each record of trainer_log.jsonl (by its step) appears, while the platform may be dead."""

    def watch() -> None:
        while not stop.is_set():
            now = time.time()
            if path.exists():
                for line in path.read_text().splitlines():
                    if line.endswith("}"):
                        seen.setdefault(json.loads(line)["current_steps"], now)
            stop.wait(0.05)

    return watch


@pytest.mark.django_db(transaction=True)
def test_every_line_and_point_keeps_the_trainers_time_across_kill_9_of_web_and_worker(
    one_database, owner, owner_client, llamafactory_dir, platform
):
    file = uploaded(owner_client, "chats", [conversation(index) for index in range(64)])
    runs = create_project(owner_client, llamafactory_dir, "clock", file["path"], max_steps=400, save_steps=100)
    token = owner.auth_token.key
    platform.start("first")
    run_id = platform.call(token, "POST", runs, {})["id"]
    output_dir = Path(wait_for(lambda: Run.objects.get(pk=run_id).output_dir, timeout=30, what="the run's folder"))
    appeared: dict[int, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_records(output_dir / "trainer_log.jsonl", appeared, stop))
    watcher.start()
    try:
        wait_for(
            lambda: MetricPoint.objects.filter(run_id=run_id, name="train/loss").count() >= 2,
            timeout=240,
            what="the platform to read the first losses",
        )
        platform.kill()  # kill -9 of the web server and the worker mid-run
        killed = time.time()
        wait_for(
            lambda: max(appeared.values()) > killed + 3, timeout=60, what="the trainer to log for seconds unwatched"
        )
        platform.start("second")
        done = wait_for(
            lambda: (body := platform.call(token, "GET", f"{runs}/{run_id}"))["status"] != "running" and body,
            timeout=300,
            interval=0.5,
            what="the run to end",
        )
    finally:
        stop.set()
        watcher.join()
    assert done["status"] == "completed", done
    assert max(appeared) == 400 and max(appeared.values()) > killed + 3, "it trained on after the kill"

    points = dict(MetricPoint.objects.filter(run_id=run_id, name="train/loss").values_list("step", "timestamp"))
    assert sorted(points) == sorted(appeared)
    late = {step: round(points[step].timestamp() - appeared[step], 2) for step in points}
    assert {step: gap for step, gap in late.items() if abs(gap) > 1} == {}, "points a second or more off"

    lines = list(LogLine.objects.filter(run_id=run_id).order_by("seq").values_list("message", "timestamp"))
    prefixed = [(message, stamp.timestamp()) for message, stamp in lines if prefix_time(message) is not None]
    assert len(prefixed) > 20
    assert [message for message, stamp in prefixed if abs(stamp - (prefix_time(message) or 0)) > 0.001] == []
    # Every other line lies within a second of the nearest lines whose time is known (a prefix: that second;
    # a printed loss: when its trainer_log.jsonl record appeared; the nth printed is the nth step's), the
    # trainer's time a line without one of its own (printed losses, bars, warnings) can be held to; stamped
    # at the restart, those written unwatched would be 3 s off or more.
    steps = iter(sorted(appeared))
    known: list[tuple[float, float] | None] = []
    for message, _ in lines:
        if (written := prefix_time(message)) is not None:
            known.append((written, written + 1))
        elif message.startswith("{'loss'"):
            printed = appeared[next(steps)]
            known.append((printed - 0.1, printed))  # the watcher looks every 0.05 s
        else:
            known.append(None)
    off = []
    for index, (message, stamp) in enumerate(lines):
        slack = 0.001 if prefix_time(message) is not None else 1
        before = next((bounds[0] for bounds in reversed(known[: index + 1]) if bounds), None)
        after = next((bounds[1] for bounds in known[index:] if bounds), None)
        if (before is not None and stamp.timestamp() < before - slack) or (
            after is not None and stamp.timestamp() > after + slack
        ):
            off.append((message[:80], stamp.timestamp(), before, after))
    assert off == [], "lines stamped outside the times of the lines around them"
