"""Fixtures for run tests: a training directory, a project, the stand-in trainer, a supervisor.

Trainers here are real processes; every test stops whatever its runs left behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llmplatform.processes import terminate_group
from projects.models import Project
from projects.services import create_project
from runs.models import Run
from runs.supervisor import RunSupervisor
from runs.tests.fixtures import fake_trainer_command


@pytest.fixture
def training_dir(settings) -> Path:
    root = Path(settings.HOST_TRAINING_DIR)
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "configs").mkdir(parents=True, exist_ok=True)
    (root / "datasets" / "demo.jsonl").write_text('{"messages": []}\n')
    config = {"dataset": "datasets/demo.jsonl", "max_steps": 20, "save_steps": 10, "step_seconds": 0.01}
    (root / "configs" / "fake.yaml").write_text(yaml.safe_dump(config))
    return root


@pytest.fixture
def fake_trainer(settings, training_dir) -> str:
    """TRAINING_COMMAND runs the stand-in trainer on the run's effective config."""
    settings.TRAINING_COMMAND = fake_trainer_command()
    settings.CANCEL_GRACE_SECONDS = 5.0
    return settings.TRAINING_COMMAND


@pytest.fixture
def project(owner, member, training_dir) -> Project:
    return create_project(
        actor=owner,
        fields={
            "name": "demo",
            "dataset_name": "datasets/demo.jsonl",
            "training_yaml_name": "configs/fake.yaml",
            "base_model": "tiny-llama",
        },
        members=[member],
    )


@pytest.fixture(autouse=True)
def stop_leftover_trainers(request):
    database = {"transactional_db", "db"} & set(request.fixturenames)
    if not database:
        yield
        return
    request.getfixturevalue(sorted(database)[-1])  # set up first, so torn down after this
    yield
    for state in Run.objects.exclude(executor_state={}).values_list("executor_state", flat=True):
        if "pgid" in state:
            terminate_group(int(state["pgid"]), grace=0.0)


@pytest.fixture
def supervisor() -> RunSupervisor:
    return RunSupervisor()
