"""What runs tell a project's webhooks (notifications.services.notify), one line at each transition;
an ending is also sent as `runs.signals.run_finished` (checkpoint retention listens)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from notifications.models import EventName
from notifications.services import notify
from runs.models import FINISHED_STATUSES, Artifact, ArtifactType, Run, RunStatus
from runs.signals import run_finished

ENDINGS = {
    RunStatus.COMPLETED: EventName.RUN_COMPLETED,
    RunStatus.FAILED: EventName.RUN_FAILED,
    RunStatus.CANCELLED: EventName.RUN_CANCELLED,
}


def run_data(run: Run) -> dict[str, Any]:
    return {
        "run_id": str(run.pk),
        "run": run.name,
        "status": run.status,
        "exit_code": run.exit_code,
        "host": run.host,
        "executor": run.executor,
    }


def run_changed(run: Run, event: EventName | None = None, **details: Any) -> None:
    """The run reached its current status (its ending's event unless `event` says otherwise)."""
    event = event or ENDINGS.get(RunStatus(run.status), EventName.RUN_STARTED)
    if run.status in FINISHED_STATUSES:
        run_finished.send(sender=Run, run=run)
    notify(
        project_id=run.project_id,
        event=event,
        summary=f"run {run.name} {event.label.lower().removeprefix('run ')}",
        data=run_data(run) | details,
    )


def checkpoints_saved(run: Run, found: Iterable[Any]) -> None:
    """Checkpoints the trainer has just finished writing (ingestion's `FoundArtifact`s)."""
    for item in found:
        if item.type == ArtifactType.CHECKPOINT:
            notify(
                project_id=run.project_id,
                event=EventName.CHECKPOINT_SAVED,
                summary=f"run {run.name} saved {item.name}",
                data=run_data(run) | {"checkpoint": item.name, "step": item.step, "path": item.path},
            )


def artifact_tagged(artifact: Artifact, tag: str) -> None:
    run = artifact.run
    notify(
        project_id=run.project_id,
        event=EventName.CHECKPOINT_TAGGED,
        summary=f"{artifact.name} of run {run.name} tagged {tag}",
        data=run_data(run) | {"artifact_id": str(artifact.pk), "artifact": artifact.name, "tag": tag},
    )
