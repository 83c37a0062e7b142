"""The run page shows a run stalled, retried or preempted, with links along its chain."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from projects.services import create_project
from runs.models import Run, RunStatus

pytestmark = pytest.mark.django_db


def url(name: str, run: Run) -> str:
    return reverse(f"console:{name}", args=[run.project_id, run.pk])


def test_it_shows_a_stalled_run_with_its_reason(member_session, run):
    Run.objects.filter(pk=run.pk).update(
        stalled_since=timezone.now(), stall_reason="no new step for 612 s (after step 40)"
    )

    panel = member_session.get(url("run-status", run)).content.decode()

    assert 'id="run-stalled"' in panel
    assert "no new step for 612 s (after step 40)" in panel


def test_it_links_every_attempt_of_a_retried_run(member_session, run, project):
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, retry_reason="retried as run run-001-attempt-2 (attempt 2) from checkpoint-40"
    )
    retry = Run.objects.create(project=project, name="run-001-attempt-2", retry_of=run, attempt=2)

    first = member_session.get(url("run-detail", run)).content.decode()
    second = member_session.get(url("run-detail", retry)).content.decode()

    assert f'href="{url("run-detail", retry)}"' in first
    assert "retried as run run-001-attempt-2 (attempt 2) from checkpoint-40" in first
    assert f'href="{url("run-detail", run)}"' in second
    assert '<strong aria-current="page">2. run-001-attempt-2' in second


def test_it_names_the_run_that_preempted_it_only_to_those_who_may_see_that_run(
    member_session, staff_session, run, staff
):
    other = create_project(actor=staff, fields={"name": "urgent", "may_preempt": True})
    urgent = Run.objects.create(project=other, name="urgent-001", priority=5)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED, preempted_by=urgent, preempted_at=timezone.now())

    as_member = member_session.get(url("run-detail", run)).content.decode()
    as_staff = staff_session.get(url("run-detail", run)).content.decode()

    assert "by a run of another project" in as_member and "urgent-001" not in as_member
    assert f'href="{url("run-detail", urgent)}"' in as_staff and "(priority 5)" in as_staff
