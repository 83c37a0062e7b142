"""The queue as people see it: per project, what runs and what waits; the waiting runs of the
projects a user sees, a page at a time in dispatch order with why they wait; per GPU, who holds
it; along a run's retry chain, which runs retried or preempted it; and along its resumes, which
checkpoints it continues and which runs continue it.

Like the GPU table, it names only runs the user may see: another project's run that preempted
one of yours shows as "a run of another project". The page costs the same few queries however
many runs wait: the projects' figures are counted by the database, and only one page of waiting
runs is read, with their places in the whole queue counted in one query.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q

from console.lookups import visible_runs
from llmplatform.users import Visitor
from projects.models import Project
from runs.models import Artifact, Run, RunStatus
from runs.scheduling import FairShare, queue_positions

MAX_CHAIN = 50  # attempts shown along one run's chain
RETRIED_STATUSES = frozenset({RunStatus.FAILED, RunStatus.CANCELLED})
WAITING_PER_PAGE = 50


@dataclass(frozen=True)
class ProjectQueue:
    """A project the user sees with runs running or waiting: how many of each, and the GPUs it holds."""

    project: Project
    running: int
    waiting: int
    gpus_held: int


@dataclass(frozen=True)
class Queue:
    projects: list[ProjectQueue]
    waiting: Page[Run]  # those projects' queued runs, in dispatch order
    places: list[tuple[int, Run]]  # the page's runs, each with its place in the whole queue
    running: list[Run]


def queue_for(user: Visitor, page: str | int | None = None) -> Queue:
    """The queue as `user` sees it, with page `page` of its waiting runs."""
    fair = FairShare.now()
    active = visible_runs(user).filter(Q(status=RunStatus.RUNNING) | Q(status=RunStatus.QUEUED, executor_state={}))
    counts = active.values("project_id").annotate(
        running=Count("pk", filter=Q(status=RunStatus.RUNNING)), waiting=Count("pk", filter=Q(status=RunStatus.QUEUED))
    )
    figures = {row["project_id"]: row for row in counts}
    projects = Project.objects.filter(pk__in=figures).order_by("name")
    queued = fair.order(visible_runs(user).in_dispatch_order()).select_related("project")
    waiting = Paginator(queued, WAITING_PER_PAGE).get_page(page)
    runs = list(waiting.object_list)
    positions = queue_positions(runs, fair)
    running = visible_runs(user).filter(status=RunStatus.RUNNING).select_related("project").order_by("started_at")
    return Queue(
        projects=[
            ProjectQueue(
                project,
                running=figures[project.pk]["running"],
                waiting=figures[project.pk]["waiting"],
                gpus_held=fair.held[project.pk],
            )
            for project in projects
        ],
        waiting=waiting,
        places=[(positions[run.pk], run) for run in runs],
        running=list(running),
    )


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
