"""Where runs execute. Each executor is one module implementing `base.Executor`."""

from __future__ import annotations

from django.utils.module_loading import import_string

from runs.executors.base import Executor

EXECUTOR_CLASSES = {
    "local": "runs.executors.local.LocalExecutor",
    "docker": "runs.executors.docker.DockerExecutor",
    "slurm": "runs.executors.slurm.SlurmExecutor",
}


def get_executor(kind: str) -> Executor:
    try:
        path = EXECUTOR_CLASSES[kind]
    except KeyError:
        raise ValueError(f"Unknown executor {kind!r}; choose one of {sorted(EXECUTOR_CLASSES)}") from None
    return import_string(path)()
