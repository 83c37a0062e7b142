"""P7 overhead: the same trainer's steps per second run bare and under the platform.

The trainer is the demo's real `transformers.Trainer` script (demo/training). Bare:
`bash run_train_full_sft.sh cfg.yaml > train.log` in a shell's way. Under the
platform: the same config launched through POST /projects/demo/runs, started and
watched by a `manage.py supervise` process (log ingestion every 0.5 s, checkpoint
scans, status). Steps/s is the trainer's own `train_steps_per_second` (it excludes
interpreter start-up). Rounds alternate bare/platform; medians are compared.

On a shared 2-core machine wall-clock steps/s swing by ±40 % between identical
runs, so the script also measures what the platform costs in CPU: the CPU seconds
of the supervisor process while it watches a run, against the CPU seconds the bare
trainer used (its rusage). That share is what the platform takes from a CPU-bound
trainer on a busy host.

    python bench/p7_overhead.py [--steps 600] [--rounds 3]

Goal: ratio ≥ 0.99.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import machine
from runs_setup import REPO, parser, setup

HYPERPARAMETERS = {"logging_steps": 10, "save_steps": 200, "eval_steps": 100_000}


def steps_per_second(output_dir: Path) -> float:
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    return float(next(entry["train_steps_per_second"] for entry in history if "train_steps_per_second" in entry))


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one live process (not its children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_bare(training_dir: Path, scratch: Path, round_number: int, steps: int) -> tuple[float, float]:
    """(steps/s, CPU seconds of the trainer and its children)."""
    import yaml

    output_dir = scratch / f"bare-{round_number}"
    config = yaml.safe_load((training_dir / "configs" / "demo_sft.yaml").read_text())
    config.update(HYPERPARAMETERS, max_steps=steps, output_dir=str(output_dir))
    config_path = scratch / f"bare-{round_number}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(scratch / f"bare-{round_number}.log", "wb") as log:
        subprocess.run(
            ["bash", "run_train_full_sft.sh", str(config_path)],
            cwd=training_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            check=True,
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return steps_per_second(output_dir), cpu


def run_under_platform(client, steps: int, supervisor_pid: int) -> tuple[float, float]:
    """(steps/s, CPU seconds the supervisor spent while the run was queued or running)."""
    from runs.models import Run, RunStatus

    cpu_before = process_cpu_seconds(supervisor_pid)
    response = client.post(
        "/projects/demo/runs", {"hyperparameters": {**HYPERPARAMETERS, "max_steps": steps}}, format="json"
    )
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    deadline = time.monotonic() + 600
    while (run := Run.objects.get(pk=run_id)).status not in {RunStatus.COMPLETED, RunStatus.FAILED}:
        assert time.monotonic() < deadline, "the run did not finish in 10 minutes"
        time.sleep(0.2)
    cpu = process_cpu_seconds(supervisor_pid) - cpu_before
    assert run.status == RunStatus.COMPLETED, f"run {run_id} {run.status}"
    assert run.log_lines.count() > 0 and run.metric_points.filter(name="train/loss").exists()
    return steps_per_second(Path(run.output_dir)), cpu


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--steps", type=int, default=600)
    arguments.add_argument("--rounds", type=int, default=3)
    options = arguments.parse_args()
    scratch = setup(options.database)

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.test import APIClient

    user = User.objects.create_user("bench", is_staff=True, is_superuser=True)
    call_command("install_demo", "--owner", "bench")
    client = APIClient()
    client.force_authenticate(user)
    supervisor = subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "supervise", "runs"],
        cwd=REPO,
        stdout=open(scratch / "supervisor.log", "wb"),  # noqa: SIM115 (lives as long as the process)
        stderr=subprocess.STDOUT,
    )
    bare, platform, trainer_cpu, watcher_cpu = [], [], [], []
    try:
        for round_number in range(options.rounds):
            speed, cpu = run_bare(Path(settings.HOST_TRAINING_DIR), scratch, round_number, options.steps)
            bare.append(speed)
            trainer_cpu.append(cpu)
            speed, cpu = run_under_platform(client, options.steps, supervisor.pid)
            platform.append(speed)
            watcher_cpu.append(cpu)
            print(
                f"round {round_number + 1}: bare {bare[-1]:.2f} steps/s ({trainer_cpu[-1]:.1f} CPU s),"
                f" platform {platform[-1]:.2f} steps/s (supervisor {watcher_cpu[-1]:.2f} CPU s)"
            )
    finally:
        supervisor.terminate()
        supervisor.wait(timeout=30)
    ratio = statistics.median(platform) / statistics.median(bare)
    share = statistics.median(watcher_cpu) / statistics.median(trainer_cpu)
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}  steps: {options.steps}")
    print(f"bare:     median {statistics.median(bare):.2f} steps/s  ({', '.join(f'{v:.2f}' for v in bare)})")
    print(f"platform: median {statistics.median(platform):.2f} steps/s  ({', '.join(f'{v:.2f}' for v in platform)})")
    print(f"wall-clock ratio: {ratio:.3f}x (goal >= 0.99x)")
    print(
        f"CPU: the supervisor used {statistics.median(watcher_cpu):.2f} s per run against the trainer's"
        f" {statistics.median(trainer_cpu):.1f} s: {share:.2%} of the trainer's CPU"
        f" (CPU-bound throughput ratio {1 / (1 + share):.3f}x)"
    )


if __name__ == "__main__":
    print(f"at the start, {machine()}", flush=True)
    main()
    print(f"at the end,   {machine()}")
