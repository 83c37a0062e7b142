"""P6 over HTTP: POST /projects/{ref}/runs → `running` through gunicorn, the pre-flight on; and the pre-flight alone.

The platform as scripts/start serves it: gunicorn (gunicorn.conf.py in the repository root: 2
workers of 4 threads) and a real `manage.py qcluster` (ORM broker, which also runs the supervision
loop), SQLite or PostgreSQL. Each launch is an HTTP request with an API token. The project trains
with LLaMA-Factory (`trainer: llamafactory-0.9.x`), so every launch checks its effective config
against LLaMA-Factory's arguments and its paths, and its dataset is an uploaded, validated file
whose token lengths by the config's model folder (a tokenizer.json) are checked against
`cutoff_len` (measured by the first launch, looked up by the others). The trainer is the stand-in
(runs/tests/fixtures/fake_trainer.py, 3 quick steps), so runs end quickly and never pile up; the
clock stops when the run's row says `running`.

Then, in this process, the pre-flight alone over the same effective config, `--repeat` times each:
the trainer-arguments check (projects.trainer_arguments.refuse_unfit_config) and the length check
(runs.lengths.length_warnings).

    python bench/p6_launch_http.py [--runs 50] [--repeat 1000] [--database postgres://…]

Goals: POST → running p50 ≤ 300 ms; the pre-flight adds ≤ 50 ms p50.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from machine import machine
from runs_setup import REPO, parser, setup

MODEL = "models/word-model"
LINES = ["say hi to the user", "hi there how are you", "one two three four five six seven eight"]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(training_dir: Path) -> tuple[str, str]:
    """A staff user's API token, and the LLaMA-Factory project whose runs are launched (its name)."""
    from rest_framework.authtoken.models import Token
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from datasets import services as datasets_services
    from projects.services import create_project

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(LINES, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    (training_dir / MODEL).mkdir(parents=True)
    tokenizer.save(str(training_dir / MODEL / "tokenizer.json"))
    (training_dir / "configs").mkdir()
    config = {
        "stage": "sft",
        "finetuning_type": "lora",
        "model_name_or_path": MODEL,
        "cutoff_len": 1024,
        "max_steps": 3,
        "save_steps": 1000,  # after the last step: no checkpoint
        "learning_rate": 2.0e-5,
    }
    (training_dir / "configs" / "lf.yaml").write_text(json.dumps(config))  # JSON is YAML
    from django.contrib.auth.models import User

    user = User.objects.create_user("bench", is_staff=True)
    token = Token.objects.create(user=user).key
    dataset = datasets_services.create_dataset(name="pairs", task_type="sft", created_by=user)
    source = training_dir / "pairs.jsonl"
    record = {"instruction": "say hi", "input": "to the user", "output": "hi there"}
    source.write_text("".join(json.dumps(record) + "\n" for _ in range(1000)))
    dataset_file = datasets_services.add_file_from_path(
        dataset=dataset, source_path=source, filename="pairs.jsonl", created_by=user
    )
    fields = {
        "name": "latency",
        "dataset_name": dataset_file.relative_path,
        "training_yaml_name": "configs/lf.yaml",
        "trainer": "llamafactory-0.9.x",
    }
    create_project(actor=user, fields=fields)
    return token, "latency"


def post(url: str, token: str, body: dict) -> tuple[int, dict, float]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
            return response.status, answer, time.perf_counter() - started
    except urllib.error.HTTPError as refused:
        raise SystemExit(f"{url} answered {refused.code}: {refused.read().decode()}") from None


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(share * len(ordered)) - 1)]


def preflight_costs(project_name: str, repeat: int) -> dict[str, list[float]]:
    """The pre-flight's checks alone, on the effective config a launch of the project checks."""
    from django.conf import settings

    from llmplatform.training_yaml import read_training_yaml
    from projects.models import Project
    from projects.trainer_arguments import refuse_unfit_config
    from runs import launch, lengths

    project = Project.objects.get(name=project_name)
    base = read_training_yaml(Path(settings.HOST_TRAINING_DIR) / project.training_yaml_name)
    config = launch.effective_config(
        base, overrides=project.default_hyperparameters, output_dir=Path("/tmp/out"), resume_from_checkpoint=None
    )
    origin = dict.fromkeys(config, "the training YAML")

    def config_check() -> None:
        refuse_unfit_config(config, trainer=project.trainer_in_effect, origin=origin, what="The run's config")

    def length_check() -> None:
        warnings = lengths.length_warnings(
            project=project, dataset=project.dataset_name, config=config, model=project.base_model, actor=None
        )
        assert warnings == [], warnings

    return {"trainer arguments": timed(config_check, repeat), "token lengths": timed(length_check, repeat)}


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--runs", type=int, default=50)
    arguments.add_argument("--repeat", type=int, default=1000, help="calls of each pre-flight check timed alone")
    options = arguments.parse_args()
    at_start = machine()
    print(f"at the start, {at_start}", flush=True)
    from runs.tests.fixtures import fake_trainer_command

    os.environ["TRAINING_COMMAND"] = fake_trainer_command()
    scratch = setup(options.database)
    from django.conf import settings

    from llmplatform.processes import terminate_group
    from runs.models import Run, RunStatus

    token, project = prepare(Path(settings.HOST_TRAINING_DIR))
    port = free_port()
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "llmplatform.settings"}
    processes = [
        subprocess.Popen(
            # Workers and threads as scripts/start runs them: gunicorn.conf.py in the repository root.
            [sys.executable, "-m", "gunicorn", "llmplatform.wsgi", "-b", f"127.0.0.1:{port}"],
            cwd=REPO,
            env=environment,
            stdout=open(scratch / "gunicorn.log", "wb"),  # noqa: SIM115 (lives as long as the process)
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped whole, workers and all
        ),
        subprocess.Popen(
            [sys.executable, str(REPO / "manage.py"), "qcluster"],
            cwd=REPO,
            env=environment,
            stdout=open(scratch / "qcluster.log", "wb"),  # noqa: SIM115 (lives as long as the process)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
    ]
    url = f"http://127.0.0.1:{port}/projects/{project}/runs"
    answered, to_running = [], []
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
        time.sleep(3)  # the cluster's workers come up
        post(url, token, {})  # the first launch measures the dataset's token lengths; the others look them up
        for _ in range(options.runs):
            started = time.perf_counter()
            status, body, took = post(url, token, {})
            assert status == 201 and body["warnings"] == [], body
            deadline = time.monotonic() + 60
            while Run.objects.filter(pk=body["id"], status=RunStatus.QUEUED).exists():
                assert time.monotonic() < deadline, "the run did not start within 60 s"
                time.sleep(0.005)
            to_running.append(time.perf_counter() - started)
            answered.append(took)
            assert Run.objects.get(pk=body["id"]).status in {RunStatus.RUNNING, RunStatus.COMPLETED}
    finally:
        for process in processes:
            terminate_group(process.pid, grace=5)
    costs = preflight_costs(project, options.repeat)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.{1 if seconds < 0.01 else 0}f} ms"

    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}  runs: {len(to_running)}")
    print(f"POST answered (201):   p50 {ms(statistics.median(answered))}, p95 {ms(percentile(answered, 0.95))}")
    print(
        f"POST -> running:       p50 {ms(statistics.median(to_running))}, p95 {ms(percentile(to_running, 0.95))}"
        " (goal p50 <= 300 ms)"
    )
    for name, times in costs.items():
        print(
            f"pre-flight, {name + ':':18} p50 {statistics.median(times) * 1000:.3f} ms, "
            f"p95 {percentile(times, 0.95) * 1000:.3f} ms over {len(times)} calls (goal: all checks <= 50 ms p50)"
        )
    print(f"at the end,   {machine()}")


if __name__ == "__main__":
    main()
