"""The disk guard: a run is not launched onto a filesystem too full for the checkpoints it will write.

What a run will write is judged from what came before it: a resume from the run it
continues (every checkpoint that run kept), a new run from the project's latest run
that kept any. A run with nothing before it is let through: there is nothing to judge by.
The refusal is a 409 with the figures, and the project's webhooks hear `disk.low`.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.db.models import Sum

from llmplatform.errors import ConflictingState
from llmplatform.sentences import gettext_noop
from notifications.models import EventName
from notifications.services import notify
from projects.models import Project
from runs.models import Artifact, ArtifactType, Run


class DiskTooFull(ConflictingState):
    """Too little free space where runs write for what the run is expected to write (HTTP 409)."""


def checkpoint_bytes(run_id: uuid.UUID) -> int:
    kept = Artifact.objects.filter(run_id=run_id, type=ArtifactType.CHECKPOINT).aggregate(total=Sum("size_bytes"))
    return int(kept["total"] or 0)


def expected_bytes(*, project: Project, resume_from: Artifact | None) -> tuple[int, str]:
    """Bytes of checkpoints the run is expected to write, and the run that suggests it ("" when none does)."""
    if resume_from is not None:
        return checkpoint_bytes(resume_from.run_id), str(resume_from.run)
    previous = (
        Run.objects.filter(project=project, artifacts__type=ArtifactType.CHECKPOINT, artifacts__size_bytes__gt=0)
        .order_by("-created_at")
        .first()
    )
    return (checkpoint_bytes(previous.pk), str(previous)) if previous else (0, "")


def refuse_when_full(*, project: Project, resume_from: Artifact | None = None) -> None:
    """Raise DiskTooFull when RUNS_DIR's filesystem has less free space than the run is expected to write."""
    needed, judged_by = expected_bytes(project=project, resume_from=resume_from)
    if not needed:
        return
    runs_dir = Path(settings.RUNS_DIR)
    free = shutil.disk_usage(runs_dir).free
    if free >= needed:
        return
    detail = gettext_noop(
        "Only {free:.1f} GiB free where runs write ({path}); run {judged_by} wrote {needed:.1f} GiB of "
        "checkpoints, so this run would likely fill the disk. Free space, or let the project's retention "
        "policy remove old checkpoints."
    ).format(free=free / 2**30, path=runs_dir, judged_by=judged_by, needed=needed / 2**30)
    notify(
        project_id=project.pk,
        event=EventName.DISK_LOW,
        summary=f"a run was refused: {free / 2**30:.1f} GiB free, {needed / 2**30:.1f} GiB expected",
        data={"path": str(runs_dir), "free_bytes": free, "needed_bytes": needed, "judged_by": judged_by},
    )
    raise DiskTooFull(detail, free_bytes=free, needed_bytes=needed, path=str(runs_dir))
