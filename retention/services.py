"""Checkpoint retention: after a run ends, delete the checkpoints its project's policy does not keep.

Kept whatever the policy says: checkpoints tagged release or candidate, one a live
deployment serves (by artifact or by path), one any run was resumed from (a queued
resume needs it; a finished one keeps its record of where it came from), and anything
outside the run's own output folder (never deleted from here). Each deletion removes the
folder, then the record, and is audited.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction
from audit.services import record_event
from deployments.models import LIVE_STATUSES, Deployment
from llmplatform.errors import InvalidInput, NotPermitted
from llmplatform.users import Actor
from projects.models import Project
from retention.models import BestIs, RetentionPolicy
from runs.models import Artifact, ArtifactTagValue, ArtifactType, MetricPoint, Run

logger = logging.getLogger(__name__)

KEPT_TAGS = (ArtifactTagValue.RELEASE, ArtifactTagValue.CANDIDATE)


def value_at_checkpoints(run: Run, metric: str, steps: list[int]) -> dict[int, float]:
    """The metric's latest value at or before each step (steps without one are absent)."""
    points = list(MetricPoint.objects.filter(run=run, name=metric).order_by("step").values_list("step", "value"))
    values: dict[int, float] = {}
    for step in steps:
        before = [value for point_step, value in points if point_step <= step]
        if before:
            values[step] = before[-1]
    return values


def protected(checkpoints: list[Artifact]) -> set[uuid.UUID]:
    """Ids of the checkpoints no policy may delete."""
    ids = [artifact.pk for artifact in checkpoints]
    paths = [artifact.path for artifact in checkpoints]
    tagged = Artifact.objects.filter(pk__in=ids, tags__value__in=KEPT_TAGS).values_list("pk", flat=True)
    served = Deployment.objects.filter(Q(artifact_id__in=ids) | Q(model_path__in=paths), status__in=LIVE_STATUSES)
    served_paths = set(served.values_list("model_path", flat=True))
    served_ids = set(served.values_list("artifact_id", flat=True))
    resumed = Run.objects.filter(resume_source_artifact_id__in=ids).values_list("resume_source_artifact_id", flat=True)
    by_path = {artifact.pk for artifact in checkpoints if artifact.path in served_paths}
    return set(tagged) | served_ids | set(resumed) | by_path


def kept_by_policy(policy: RetentionPolicy, run: Run, checkpoints: list[Artifact]) -> set[uuid.UUID]:
    by_step = sorted(checkpoints, key=lambda artifact: (artifact.step or 0, artifact.created_at))
    kept = {artifact.pk for artifact in by_step[-policy.keep_last :]} if policy.keep_last else set()
    if policy.keep_best and policy.best_metric:
        values = value_at_checkpoints(run, policy.best_metric, [artifact.step or 0 for artifact in by_step])
        scored = [artifact for artifact in by_step if (artifact.step or 0) in values]
        scored.sort(key=lambda artifact: values[artifact.step or 0], reverse=policy.best_is == BestIs.HIGHEST)
        kept |= {artifact.pk for artifact in scored[: policy.keep_best]}
    return kept


def doomed_checkpoints(run: Run) -> list[Artifact]:
    """The run's checkpoints its project's policy would delete now (none without a policy or while it runs)."""
    policy = RetentionPolicy.objects.filter(project_id=run.project_id).first()
    if policy is None or not run.is_finished:
        return []
    checkpoints = list(Artifact.objects.filter(run=run, type=ArtifactType.CHECKPOINT))
    keep = kept_by_policy(policy, run, checkpoints) | protected(checkpoints)
    output_dir = Path(run.output_dir).resolve() if run.output_dir else None
    return [
        artifact
        for artifact in checkpoints
        if artifact.pk not in keep
        and output_dir is not None
        and Path(artifact.path).resolve().is_relative_to(output_dir)
    ]


def apply_retention(run: Run) -> list[Artifact]:
    """Delete the run's checkpoints its project's policy does not keep; the ones deleted."""
    deleted = []
    for artifact in doomed_checkpoints(run):
        try:
            shutil.rmtree(artifact.path)
        except FileNotFoundError:
            pass
        except OSError:
            logger.exception("Could not delete checkpoint %s of run %s; it is kept.", artifact.path, run.pk)
            continue
        record_event(
            actor=None,
            action=AuditAction.DELETE,
            verb="retention",
            target=artifact,
            changes={
                "run": str(run.pk),
                "path": artifact.path,
                "bytes": artifact.size_bytes,
                "step": artifact.step,
            },
        )
        artifact.delete()
        deleted.append(artifact)
    return deleted


def set_policy(*, project: Project, actor: Actor, values: dict[str, Any]) -> RetentionPolicy:
    """Give `project` a policy, or change its policy; its creator and staff only."""
    if actor is None or not project.can_edit(actor):
        raise NotPermitted(_("Only the project's creator and staff set its checkpoint retention."))
    if values.get("keep_best") and not values.get("best_metric"):
        raise InvalidInput(_("keep_best needs best_metric: the metric that ranks checkpoints."), field="best_metric")
    policy, created = RetentionPolicy.objects.update_or_create(project=project, defaults=values)
    record_event(
        actor=actor,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        target=policy,
        changes={"project": project.name, **values},
    )
    return policy


def remove_policy(*, project: Project, actor: Actor) -> None:
    """The project keeps every checkpoint again."""
    if actor is None or not project.can_edit(actor):
        raise NotPermitted(_("Only the project's creator and staff set its checkpoint retention."))
    policy = RetentionPolicy.objects.filter(project=project).first()
    if policy is not None:
        record_event(actor=actor, action=AuditAction.DELETE, target=policy, changes={"project": project.name})
        policy.delete()
