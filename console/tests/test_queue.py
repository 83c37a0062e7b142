"""The queue page: each GPU and who holds it, each project's running and waiting runs in order, and why."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console.queue import WAITING_PER_PAGE
from gpus.models import GpuClaim, HolderKind
from projects.services import create_project
from runs.models import Run, RunStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue_state(settings, project, outsider):
    settings.GPU_IDS = "0,1"
    holder = Run.objects.create(
        project=project, name="holder", status=RunStatus.RUNNING, started_at=timezone.now(), gpu_indices=[0, 1]
    )
    GpuClaim.objects.bulk_create(
        GpuClaim(gpu_index=index, holder_kind=HolderKind.RUN, holder_id=str(holder.pk), holder_label="holder")
        for index in (0, 1)
    )
    mine = Run.objects.create(
        project=project, name="mine", resources={"gpu_count": 2}, queue_reason="waiting for 2 GPU(s), 0 free of 2"
    )
    theirs_project = create_project(actor=outsider, fields={"name": "theirs"})
    theirs = Run.objects.create(project=theirs_project, name="secret-run", resources={"gpu_count": 1})
    return holder, mine, theirs


def test_it_shows_each_projects_runs_in_queue_order_with_why_they_wait(member_session, queue_state):
    _holder, mine, _theirs = queue_state

    page = member_session.get(reverse("console:queue")).content.decode()

    assert "qwen-finetune" in page and "2 GPUs held" in page
    assert "waiting for 2 GPU(s), 0 free of 2" in page
    assert reverse("console:run-detail", args=[mine.project_id, mine.pk]) in page
    # Position 2: the other project's run, holding no GPU, takes its turn first.
    assert (
        '<td class="num">2</td><td><a href="' + reverse("console:run-detail", args=[mine.project_id, mine.pk]) in page
    )
    assert "secret-run" not in page and "theirs" not in page
    assert page.count('badge-completed">free') == 0  # both GPUs are held, by a run the member sees
    assert page.count("holder") >= 2


def test_it_shows_the_outsider_only_their_own_project(outsider_session, queue_state):
    page = outsider_session.get(reverse("console:queue")).content.decode()

    assert "secret-run" in page
    assert "qwen-finetune" not in page and "mine" not in page


def test_it_pages_the_waiting_runs_in_as_many_queries_however_many_wait(
    member_session, queue_state, project, django_assert_num_queries
):
    def queries_for_the_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert member_session.get(reverse("console:queue")).status_code == 200
        return len(queries)

    queries_for_the_page()  # once for what a first request of the session reads
    few = queries_for_the_page()
    more = [
        Run.objects.create(project=project, name=f"more-{number:02d}", resources={"gpu_count": 1})
        for number in range(WAITING_PER_PAGE + 10)
    ]

    with django_assert_num_queries(few):
        first = member_session.get(reverse("console:queue")).content.decode()
    last = member_session.get(reverse("console:queue"), {"page": 2}).content.decode()

    assert "Page 1 of 2" in first and more[WAITING_PER_PAGE - 2].name in first
    assert more[WAITING_PER_PAGE - 1].name not in first
    # Behind the other project's run and `mine`, in the whole queue: the member sees their places in it.
    last_link = reverse("console:run-detail", args=[project.pk, more[-1].pk])
    assert f'<td class="num">62</td><td><a href="{last_link}"' in last
    assert '<td class="num">61</td>' in first  # waiting in the member's project, counted on every page
