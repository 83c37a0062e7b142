"""The queue as people see it: per project, its waiting runs in dispatch order with why they
wait; per GPU, who holds it; along a run's retry chain, which runs retried or preempted it;
and along its resumes, which checkpoints it continues and which runs continue it.

Like the GPU table, it names only runs the user may see: another project's run that preempted
one of yours shows as "a run of another project".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console.lookups import visible_runs
from llmplatform.users import Visitor
from projects.models import Project
from runs.models import Artifact, Run, RunStatus
from runs.scheduling import Queued, dispatch_order, gpus_in_use

MAX_CHAIN = 50  # attempts shown along one run's chain
RETRIED_STATUSES = frozenset({RunStatus.FAILED, RunStatus.CANCELLED})


@dataclass
class ProjectQueue:
    project: Project
    gpus_held: int = 0
    running: list[Run] = field(default_factory=list)
    waiting: list[tuple[int, Queued]] = field(default_factory=list)  # (queue position, run)


def project_queues(user: Visitor) -> list[ProjectQueue]:
    """Every project the user sees that has runs running or waiting, with its GPUs and its queue."""
    order = dispatch_order()
    in_use = gpus_in_use()
    visible = set(Project.objects.visible_to(user).values_list("pk", flat=True))
    queues: dict[object, ProjectQueue] = {}

    def queue_of(project: Project) -> ProjectQueue:
        return queues.setdefault(project.pk, ProjectQueue(project, gpus_held=in_use[project.pk]))

    for position, waiting in enumerate(order, start=1):
        if waiting.project_id in visible:
            queue_of(waiting.project).waiting.append((position, waiting))
    running = visible_runs(user).filter(status=RunStatus.RUNNING).select_related("project").order_by("started_at")
    for run in running:
        queue_of(run.project).running.append(run)
    return sorted(queues.values(), key=lambda queue: queue.project.name)


@dataclass(frozen=True)
class Chain:
    """A run's attempts, first to last, and the run that last preempted it (None: none, or not visible)."""

    attempts: list[Run]
    preempted_by: Run | None


def run_chain(user: Visitor, run: Run) -> Chain:
    """The attempts linked to `run` by retries (all of its project), oldest first."""
    attempts = [run]
    while attempts[0].retry_of_id and len(attempts) < MAX_CHAIN:
        previous = Run.objects.filter(pk=attempts[0].retry_of_id).first()
        if previous is None:
            break
        attempts.insert(0, previous)
    # Only a run that failed or was cancelled (for a stall) is ever retried.
    while len(attempts) < MAX_CHAIN and attempts[-1].status in RETRIED_STATUSES:
        following = Run.objects.filter(retry_of=attempts[-1]).first()
        if following is None:
            break
        attempts.append(following)
    preempted_by = visible_runs(user).filter(pk=run.preempted_by_id).first() if run.preempted_by_id else None
    return Chain(attempts=attempts, preempted_by=preempted_by)


@dataclass(frozen=True)
class Resumes:
    """The checkpoints a run continues from, the first run's first (each with the run that saved it),
    and the runs resumed from this run's checkpoints, oldest first; only runs the user sees."""

    continues: list[Artifact]
    continued_by: list[Run]


def run_resumes(user: Visitor, run: Run) -> Resumes:
    visible = visible_runs(user)
    continues: list[Artifact] = []
    seen = {run.pk}
    artifact_id = run.resume_source_artifact_id
    while artifact_id and len(continues) < MAX_CHAIN:
        artifact = Artifact.objects.select_related("run").filter(pk=artifact_id, run__in=visible).first()
        if artifact is None or artifact.run_id in seen:
            break
        continues.insert(0, artifact)
        seen.add(artifact.run_id)
        artifact_id = artifact.run.resume_source_artifact_id
    continued_by = visible.filter(resume_source_artifact__run=run).select_related("resume_source_artifact")
    return Resumes(continues=continues, continued_by=list(continued_by.order_by("created_at")[:MAX_CHAIN]))
