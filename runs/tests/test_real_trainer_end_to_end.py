"""The demo project trained for real through the API: launch, watch, cancel, resume.

The trainer is the demo's `transformers.Trainer` script (demo/training), started by
the default `bash run_train_full_sft.sh {training_yaml}` command, watched by the
supervisor, stopped by cancel, continued by resume.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from llmplatform import processes
from llmplatform.testing import wait_for
from runs.models import Run

pytest.importorskip("torch", reason="torch is not installed: pip install -r requirements-trainer.txt")
pytest.importorskip("transformers", reason="transformers is not installed: pip install -r requirements-trainer.txt")

pytestmark = [pytest.mark.trainer, pytest.mark.slow]


@pytest.fixture
def demo(settings, owner):
    settings.TRAINING_COMMAND = "bash run_train_full_sft.sh {training_yaml}"
    settings.CANCEL_GRACE_SECONDS = 5.0
    # The supervisor here ticks only inside wait_for, so a cancel waits for its lease to expire.
    settings.SUPERVISOR_LEASE_SECONDS = 2.0
    call_command("install_demo", "--owner", owner.username, stdout=StringIO())
    return "/projects/demo/runs"


def test_it_trains_cancels_and_resumes_the_demo_through_the_api(
    demo, owner_client, supervisor, django_capture_on_commit_callbacks
):
    hyperparameters = {"max_steps": 400, "save_steps": 10, "logging_steps": 5, "eval_steps": 1000}
    with django_capture_on_commit_callbacks(execute=True):
        created = owner_client.post(demo, {"hyperparameters": hyperparameters}, format="json")
    assert created.status_code == 201, created.content
    url = f"{demo}/{created.json()['id']}"

    def checkpointed():
        detail = owner_client.get(url).json()
        has_checkpoint = any(item["type"] == "checkpoint" for item in detail["artifacts"])
        return detail if detail["status"] == "running" and detail["progress"] > 0.05 and has_checkpoint else None

    running = wait_for(checkpointed, between=supervisor.tick, timeout=120)
    assert 0.05 < running["progress"] < 1.0
    assert "train/loss" in running["metrics"]
    series = owner_client.get(f"{url}/metrics", {"name": "train/loss"}).json()["series"]
    assert series and series[0]["points"], "the loss curve has points"

    cancelled = owner_client.post(f"{url}/cancel")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    run = Run.objects.get(pk=created.json()["id"])
    assert processes.group_members(int(run.executor_state["pgid"])) == [], "no process of the run is left"
    checkpoints = [item for item in cancelled.json()["artifacts"] if item["type"] == "checkpoint"]
    latest = max(checkpoints, key=lambda item: item["step"])
    assert Path(latest["path"], "trainer_state.json").is_file()

    with django_capture_on_commit_callbacks(execute=True):
        resumed = owner_client.post(
            f"{url}/resume?source_artifact_id={latest['id']}",
            {"hyperparameters": {**hyperparameters, "max_steps": latest["step"] + 10}},
            format="json",
        )
    assert resumed.status_code == 201, resumed.content
    assert resumed.json()["resume_source_artifact_id"] == latest["id"]
    resumed_url = f"{demo}/{resumed.json()['id']}"
    done = wait_for(
        lambda: (detail := owner_client.get(resumed_url).json())["status"] in {"completed", "failed"} and detail,
        between=supervisor.tick,
        timeout=120,
    )
    assert done["status"] == "completed", owner_client.get(f"{resumed_url}/logs", {"page_size": 500}).json()
    output_dir = Run.objects.get(pk=done["id"]).output_dir
    state = json.loads(Path(output_dir, "trainer_state.json").read_text())
    assert state["global_step"] == latest["step"] + 10
    logs = owner_client.get(f"{resumed_url}/logs", {"page_size": 500}).json()["items"]
    printed = [item["message"] for item in logs if item["message"].startswith("{'loss'")]
    assert len(printed) == 2, f"it trained the 10 steps after {latest['step']} only: {printed}"
