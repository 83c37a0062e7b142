"""ingest_run against the stand-in trainer running as a real process (see fixtures/fake_trainer.py)."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from llmplatform import processes
from llmplatform.testing import wait_for
from runs.ingest import ingest_run, latest_complete_checkpoint
from runs.models import Artifact, LogLine, MetricPoint, Run
from runs.tests.fixtures import FAKE_TRAINER
from runs.tests.ingest_support import make_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def start(run: Run, **config: object) -> processes.ProcessIdentity:
    config_path = Path(run.run_dir) / "config.yaml"
    config_path.write_text(yaml.safe_dump({"output_dir": run.output_dir, **config}))
    return processes.spawn(
        [sys.executable, str(FAKE_TRAINER), str(config_path)],
        cwd=Path(run.run_dir),
        env=dict(os.environ),
        log_path=Path(run.run_dir) / "train.log",
        exit_code_path=Path(run.run_dir) / "exit_code",
    )


def watch(run: Run, until: Callable[[], bool], timeout: float = 30.0) -> None:
    """Ingest the way the supervisor does, until `until()` holds."""
    wait_for(until, timeout=timeout, interval=0.05, between=lambda: ingest_run(run))


def exit_code(run: Run) -> int | None:
    return processes.read_exit_code(Path(run.run_dir) / "exit_code")


def test_it_follows_a_trainer_from_start_to_finish():
    run = make_run()
    start(run, max_steps=20, logging_steps=5, save_steps=10, eval_steps=10, step_seconds=0.03)
    seen_progress = []

    def exited_noting_progress() -> bool:
        seen_progress.append(run.progress)
        return exit_code(run) is not None

    watch(run, exited_noting_progress)
    ingest_run(run, final=True)

    assert exit_code(run) == 0
    assert any(0.05 < value < 1.0 for value in seen_progress), "progress rose while it ran"
    assert run.current_step == 20 and run.total_steps == 20
    lines = list(LogLine.objects.filter(run=run).values_list("level", "message"))
    assert ("WARNING", lines[3][1]) == lines[3] and "use_cache" in lines[3][1]
    assert any("Saving model checkpoint to" in message for _, message in lines)
    is_bar = ["%|" in message for _, message in lines]
    assert not any(a and b for a, b in itertools.pairwise(is_bar)), "one row per stretch of redraws"
    assert sum(is_bar) < 20, "fewer bar rows than the 20+ redraws the trainer wrote"
    loss = dict(MetricPoint.objects.filter(run=run, name="train/loss").values_list("step", "value"))
    assert sorted(loss) == [5, 10, 15, 20]
    assert MetricPoint.objects.filter(run=run, name="eval/loss", step=10).exists()
    artifacts = {(item.type, item.name, item.step) for item in Artifact.objects.filter(run=run)}
    assert {("checkpoint", "checkpoint-10", 10), ("checkpoint", "checkpoint-20", 20)} <= artifacts
    assert {("model", "model", None), ("log", "trainer_state.json", None)} <= artifacts
    latest = latest_complete_checkpoint(run)
    assert latest is not None and latest.step == 20


def test_it_offers_the_checkpoint_a_trainer_saves_on_sigterm_and_a_resume_continues_from_it():
    run = make_run()
    identity = start(run, max_steps=10_000, save_steps=0, step_seconds=0.02)
    watch(run, lambda: (run.current_step or 0) >= 5)

    assert processes.terminate_group(identity.pid, grace=10)
    ingest_run(run, final=True)

    assert exit_code(run) == 143
    checkpoint = latest_complete_checkpoint(run)
    assert checkpoint is not None and checkpoint.step is not None and checkpoint.step >= 5
    worker_pid = int((Path(run.output_dir) / "worker.pid").read_text())
    assert not Path(f"/proc/{worker_pid}").exists()

    resumed = make_run()
    start(resumed, max_steps=checkpoint.step + 10, step_seconds=0.01, resume_from_checkpoint=checkpoint.path)
    watch(resumed, lambda: exit_code(resumed) is not None)
    ingest_run(resumed, final=True)
    assert exit_code(resumed) == 0
    assert LogLine.objects.filter(
        run=resumed, message__contains=f"Continuing training from global step {checkpoint.step}"
    ).exists()
    steps = list(MetricPoint.objects.filter(run=resumed, name="train/loss").values_list("step", flat=True))
    assert steps and min(step for step in steps if step > checkpoint.step) > checkpoint.step
    assert resumed.current_step == checkpoint.step + 10


def test_it_records_the_error_lines_of_a_trainer_that_crashes():
    run = make_run()
    start(run, max_steps=50, fail_at_step=3, exit_code=7, step_seconds=0.01)
    watch(run, lambda: exit_code(run) is not None)
    ingest_run(run, final=True)

    assert exit_code(run) == 7
    errors = list(LogLine.objects.filter(run=run, level="ERROR").values_list("message", flat=True))
    assert errors[0] == "Traceback (most recent call last):"
    assert errors[-1] == "RuntimeError: CUDA out of memory (stand-in failure at step 3)"
