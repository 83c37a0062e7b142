"""Where runs execute. Each executor is one module implementing `base.Executor`."""

from __future__ import annotations

from django.utils.module_loading import import_string

from projects.models import ExecutorKind
from runs.executors.base import Executor

EXECUTOR_CLASSES = {
    ExecutorKind.LOCAL.value: "runs.executors.local.LocalExecutor",
    ExecutorKind.DOCKER.value: "runs.executors.docker.DockerExecutor",
    ExecutorKind.SLURM.value: "runs.executors.slurm.SlurmExecutor",
}


def get_executor(kind: str) -> Executor:
    try:
        path = EXECUTOR_CLASSES[kind]
    except KeyError:
        raise ValueError(f"Unknown executor {kind!r}; choose one of {sorted(EXECUTOR_CLASSES)}") from None
    return import_string(path)()
