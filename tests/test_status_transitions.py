"""llmplatform.transitions.StatusTransitions: the one guarded status change of runs, deployments and deid jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone

from deid.models import DeidJob, DeidJobStatus
from deployments.models import LIVE_STATUSES, Deployment, DeploymentStatus
from projects.services import create_project
from runs.models import Run, RunStatus

pytestmark = pytest.mark.django_db


def an_hour_ago(instance) -> None:
    type(instance).objects.filter(pk=instance.pk).update(updated_at=timezone.now() - timedelta(hours=1))


def test_it_moves_a_deid_job_and_stamps_updated_at_on_the_row_and_the_instance():
    job = DeidJob.objects.create(policy_name="default", policy_version_label="v1", target_name="chats-deid")
    an_hour_ago(job)
    before = timezone.now()

    changed = job.transition(DeidJobStatus.QUEUED, DeidJobStatus.RUNNING, started_at=before)

    stored = DeidJob.objects.get(pk=job.pk)
    assert changed
    assert stored.status == job.status == DeidJobStatus.RUNNING
    assert stored.started_at == before
    assert stored.updated_at >= before and job.updated_at == stored.updated_at


def test_it_lets_only_the_first_of_two_writers_change_the_row(owner):
    run = Run.objects.create(project=create_project(actor=owner, fields={"name": "race"}), status=RunStatus.RUNNING)
    supervisor_copy, cancel_copy = Run.objects.get(pk=run.pk), Run.objects.get(pk=run.pk)

    finished = supervisor_copy.transition(RunStatus.RUNNING, RunStatus.COMPLETED, exit_code=0)
    cancelled = cancel_copy.transition(RunStatus.RUNNING, RunStatus.CANCELLED, cancelled_at=timezone.now())

    assert finished and not cancelled
    assert cancel_copy.status == RunStatus.RUNNING and cancel_copy.cancelled_at is None
    stored = Run.objects.get(pk=run.pk)
    assert stored.status == RunStatus.COMPLETED and stored.exit_code == 0 and stored.cancelled_at is None


def test_it_accepts_several_old_statuses_and_a_further_condition():
    deployment = Deployment.objects.create(model_path="m", served_model_name="m", status=DeploymentStatus.UNHEALTHY)
    Deployment.objects.filter(pk=deployment.pk).update(stop_requested_at=timezone.now())

    refused = deployment.transition(LIVE_STATUSES, DeploymentStatus.FAILED, where=Q(stop_requested_at=None))
    stopped = deployment.transition(LIVE_STATUSES, DeploymentStatus.STOPPED, status_detail="stopped by alice")

    assert not refused and stopped
    stored = Deployment.objects.get(pk=deployment.pk)
    assert stored.status == DeploymentStatus.STOPPED and stored.status_detail == "stopped by alice"
