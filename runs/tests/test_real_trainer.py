"""The demo's real Hugging Face trainer (demo/training/train_sft.py) watched by ingest_run.

A `transformers.Trainer` fine-tune of a randomly initialised 2-layer Llama on CPU,
started the way the local executor starts it (own session, output to the log file),
with ingest_run polled like the supervisor does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from llmplatform import processes
from llmplatform.testing import wait_for
from runs.ingest import ingest_run, latest_complete_checkpoint
from runs.management.commands.install_demo import DEMO_SOURCE, copy_training_files
from runs.models import Artifact, LogLine, MetricPoint, Run
from runs.tests.ingest_support import make_run

pytest.importorskip("torch", reason="torch is not installed: pip install -r requirements-trainer.txt")
pytest.importorskip("transformers", reason="transformers is not installed: pip install -r requirements-trainer.txt")

pytestmark = [pytest.mark.trainer, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def train(run: Run, **overrides: object) -> list[float]:
    """Run the demo trainer for `run` to its end; the progress values seen on the way."""
    training_dir = Path(settings.HOST_TRAINING_DIR)
    copy_training_files(DEMO_SOURCE, training_dir, force=False)
    config = yaml.safe_load((training_dir / "configs" / "demo_sft.yaml").read_text())
    config.update(overrides, output_dir=run.output_dir)
    config_path = Path(run.run_dir) / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    exit_code_path = Path(run.run_dir) / "exit_code"
    processes.spawn(
        ["bash", "run_train_full_sft.sh", str(config_path)],
        cwd=training_dir,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        log_path=Path(run.run_dir) / "train.log",
        exit_code_path=exit_code_path,
    )
    seen = []

    def ingest() -> None:
        ingest_run(run)
        seen.append(run.progress)

    wait_for(
        lambda: processes.read_exit_code(exit_code_path) is not None, timeout=120, between=ingest, what="the trainer"
    )
    ingest_run(run, final=True)
    log = "\n".join(LogLine.objects.filter(run=run).values_list("message", flat=True))
    assert processes.read_exit_code(exit_code_path) == 0, log[-3000:]
    return seen


def printed_loss_lines(run: Run) -> int:
    return LogLine.objects.filter(run=run, message__startswith="{'loss'").count()


def test_it_sees_progress_loss_and_checkpoints_of_a_real_trainer_and_its_resume():
    run = make_run()
    seen = train(run, max_steps=60, logging_steps=5, save_steps=20, eval_steps=20)

    assert any(0.05 < value < 1.0 for value in seen), f"progress never rose while it ran: {seen}"
    assert seen == sorted(seen), "progress only goes forward"
    assert (run.current_step, run.total_steps) == (60, 60)
    losses = dict(MetricPoint.objects.filter(run=run, name="train/loss").values_list("step", "value"))
    assert sorted(losses) == list(range(5, 61, 5))
    assert losses[60] < losses[5], "it learned something"
    assert MetricPoint.objects.filter(run=run, name="eval/loss", step=20).exists()
    checkpoints = Artifact.objects.filter(run=run, type="checkpoint").order_by("step")
    assert list(checkpoints.values_list("step", flat=True)) == [20, 40, 60]
    assert Artifact.objects.filter(run=run, type="model", path=run.output_dir).exists()
    source = Artifact.objects.get(run=run, type="checkpoint", step=20)

    resumed = make_run()
    train(resumed, max_steps=30, logging_steps=5, save_steps=10, resume_from_checkpoint=source.path)

    state = json.loads((Path(resumed.output_dir) / "trainer_state.json").read_text())
    assert state["global_step"] == 30
    assert printed_loss_lines(resumed) == 2, "it trained steps 21–30 only (loss printed at 25 and 30)"
    resumed_checkpoints = Artifact.objects.filter(run=resumed, type="checkpoint").order_by("step")
    assert list(resumed_checkpoints.values_list("step", flat=True)) == [30]
    latest = latest_complete_checkpoint(resumed)
    assert latest is not None and latest.step == 30
