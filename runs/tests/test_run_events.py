"""A run's life as its project's webhooks hear it: started, each checkpoint saved, completed; tagged, failed."""

from __future__ import annotations

import json

from llmplatform.testing import wait_for
from notifications.services import create_subscription
from notifications.tests.receiver import receiver
from runs import services
from runs.models import Run, RunStatus
from runs.scheduling import dispatch_queued_runs


def events_of(hook) -> list[tuple[str, dict]]:
    return [(request.headers["X-LLMP-Event"], json.loads(request.body)["data"]) for request in hook.requests]


def test_it_announces_a_runs_start_checkpoints_and_end(
    project, owner, fake_trainer, supervisor, django_capture_on_commit_callbacks
):
    with receiver() as hook:
        create_subscription(project=project, actor=owner, url=hook.url)
        with django_capture_on_commit_callbacks(execute=True):
            run = services.create_run(project=project, actor=owner)
            dispatch_queued_runs()
            wait_for(
                lambda: Run.objects.get(pk=run.pk).status == RunStatus.COMPLETED,
                between=supervisor.tick,
                timeout=60,
                what="the run to complete",
            )
        checkpoint = run.artifacts.filter(type="checkpoint").order_by("step").first()
        assert checkpoint is not None
        with django_capture_on_commit_callbacks(execute=True):
            services.tag_artifact(artifact=checkpoint, actor=owner, tag="发布")

    events = events_of(hook)
    names = [name for name, _ in events]
    assert names[0] == "run.started"
    assert names[-2:] == ["run.completed", "checkpoint.tagged"]
    saved = [data["checkpoint"] for name, data in events if name == "checkpoint.saved"]
    assert saved == ["checkpoint-10", "checkpoint-20"]
    assert all(data["run_id"] == str(run.pk) for _, data in events)
    assert events[-2][1]["exit_code"] == 0
    assert events[-1][1] | {"tag": "release", "artifact": "checkpoint-10"} == events[-1][1]


def test_it_announces_a_failed_run_with_its_exit_code(
    project, owner, fake_trainer, supervisor, django_capture_on_commit_callbacks
):
    with receiver() as hook:
        create_subscription(project=project, actor=owner, url=hook.url, events=["run.failed"])
        with django_capture_on_commit_callbacks(execute=True):
            run = services.create_run(project=project, actor=owner, hyperparameters={"fail_at_step": 3})
            dispatch_queued_runs()
            wait_for(
                lambda: Run.objects.get(pk=run.pk).status == RunStatus.FAILED,
                between=supervisor.tick,
                timeout=60,
                what="the run to fail",
            )

    [(name, data)] = events_of(hook)
    assert name == "run.failed"
    assert data["status"] == "failed" and data["exit_code"] not in (0, None)
