"""A run's priority is capped by its project's ceiling (`max_priority`), which only staff set.

Higher priorities hold GPUs back from lower ones (runs.scheduling), so a priority above
the ceiling is refused (403) to everyone but staff, through the API and the console alike.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from runs.models import Run

pytestmark = pytest.mark.django_db


def launch(client, project, **body):
    return client.post(f"/projects/{project.name}/runs", body, format="json")


def test_it_refuses_a_priority_above_the_default_ceiling(owner_client, member_client, member_session, project):
    says = "Priority 1 is above the ceiling of project 'qwen-finetune': 0 (max_priority, set by staff)."

    owner = launch(owner_client, project, priority=1)
    member = launch(member_client, project, priority=1)
    console = member_session.post(reverse("console:run-create", args=[project.pk]), {"gpu_count": 0, "priority": 1})

    assert (owner.status_code, member.status_code, console.status_code) == (403, 403, 400)
    assert owner.json() == member.json() == {"detail": says, "max_priority": 0}
    assert console.context["run_form"].non_field_errors() == [says]
    assert not Run.objects.exists()


def test_it_refuses_an_impossible_gpu_request_at_the_top_priority_as_a_403(owner_client, project, settings):
    settings.GPU_IDS = "0,1"

    response = launch(owner_client, project, resources={"gpu_count": 3}, priority=1000)

    assert response.status_code == 403
    assert not Run.objects.exists()


def test_it_launches_up_to_the_ceiling_staff_set_and_staff_above_it(staff_client, member_client, project):
    assert staff_client.patch(f"/projects/{project.name}", {"max_priority": 5}, format="json").status_code == 200

    allowed = launch(member_client, project, priority=5)
    above = launch(member_client, project, priority=6)
    by_staff = launch(staff_client, project, priority=1000)

    assert (allowed.status_code, above.status_code, by_staff.status_code) == (201, 403, 201)
    assert above.json()["max_priority"] == 5
    assert sorted(Run.objects.values_list("priority", flat=True)) == [5, 1000]


def test_it_takes_the_platforms_default_ceiling_from_settings(owner_client, project, settings):
    settings.DEFAULT_MAX_PRIORITY = 10

    assert launch(owner_client, project, priority=10).status_code == 201
    assert launch(owner_client, project, priority=11).status_code == 403


def test_it_refuses_to_resume_above_the_ceiling(member_client, project, finished_checkpoint):
    checkpoint = finished_checkpoint()
    source = checkpoint.run

    api = member_client.post(
        f"/projects/{project.name}/runs/{source.pk}/resume?source_artifact_id={checkpoint.pk}",
        {"priority": 1},
        format="json",
    )

    assert api.status_code == 403
    assert api.json()["max_priority"] == 0
    assert list(Run.objects.values_list("name", flat=True)) == [source.name]
