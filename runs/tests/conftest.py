"""Fixtures for run tests: the stand-in trainer, a supervisor (the root conftest.py has the project).

Trainers here are real processes; every test stops whatever its runs left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llmplatform.processes import terminate_group
from runs.models import Artifact, ArtifactType, Run, RunStatus
from runs.supervisor import RunSupervisor
from runs.tests.fixtures import fake_trainer_command


@pytest.fixture
def fake_trainer(settings, training_dir) -> str:
    """TRAINING_COMMAND runs the stand-in trainer on the run's effective config."""
    settings.TRAINING_COMMAND = fake_trainer_command()
    settings.CANCEL_GRACE_SECONDS = 5.0
    return settings.TRAINING_COMMAND


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


@pytest.fixture
def finished_checkpoint(project, owner, tmp_path) -> Callable[..., Artifact]:
    """A factory: a checkpoint on disk of a completed run of `project` that asked for `resources`."""

    def make(resources: dict[str, Any] | None = None) -> Artifact:
        source = Run.objects.create(
            project=project,
            name=f"run-{Run.objects.count() + 1:03d}",
            created_by=owner,
            status=RunStatus.COMPLETED,
            dataset=project.dataset_name,
            training_yaml_name=project.training_yaml_name,
            resources=resources or {},
        )
        folder = tmp_path / f"checkpoint-{source.pk}"
        folder.mkdir()
        return Artifact.objects.create(run=source, name="checkpoint-10", type=ArtifactType.CHECKPOINT, path=str(folder))

    return make
