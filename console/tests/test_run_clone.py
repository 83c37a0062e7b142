"""Clone and edit: the launch form filled with another run's config, launched through the same checks."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from runs.models import Run, RunStatus

pytestmark = pytest.mark.django_db


def clone_url(run: Run) -> str:
    return reverse("console:project-detail", args=[run.project_id]) + f"?clone={run.pk}"


@pytest.fixture
def source(project, owner) -> Run:
    return Run.objects.create(
        project=project,
        name="lr-sweep-3",
        status=RunStatus.COMPLETED,
        created_by=owner,
        model="Qwen/Qwen2.5-7B",
        dataset="datasets/qwen_demo.jsonl",
        training_yaml_name="configs/qwen_demo.yaml",
        hyperparameters={"learning_rate": 7e-5, "max_steps": 20},
        resources={"gpu_count": 2, "gpu_type": "A100", "memory": "64G"},
        priority=5,
    )


def test_it_fills_the_launch_form_with_the_runs_config(member_session, source):
    page = member_session.get(clone_url(source)).content.decode()
    assert 'id="clone-source"' in page and "lr-sweep-3" in page
    assert 'name="model" value="Qwen/Qwen2.5-7B"' in page
    assert 'name="gpu_count" value="2"' in page and 'name="priority" value="5"' in page
    assert 'name="gpu_type" value="A100"' in page and "{&quot;memory&quot;: &quot;64G&quot;}</textarea>" in page
    assert "&quot;learning_rate&quot;: 7e-05" in page


def test_it_shows_an_empty_resources_box_on_a_plain_launch_form(member_session, project):
    """The box a launch posts back as it is: `null` there would refuse every plain launch."""
    page = member_session.get(reverse("console:project-detail", args=[project.pk])).content.decode()
    assert 'name="resources"' in page and "null</textarea>" not in page


def test_it_launches_the_edited_copy_through_the_launch_checks(member_session, source, project):
    fields = {
        "name": "",
        "model": "Qwen/Qwen2.5-7B",
        "dataset": "datasets/qwen_demo.jsonl",
        "training_yaml_name": "configs/qwen_demo.yaml",
        "hyperparameters": '{"learning_rate": 1e-4, "max_steps": 20}',
        "gpu_count": 0,
        "priority": 0,
    }
    response = member_session.post(reverse("console:run-create", args=[project.pk]), fields)
    launched = Run.objects.exclude(pk=source.pk).get()
    assert response["Location"] == reverse("console:run-detail", args=[project.pk, launched.pk])
    assert launched.hyperparameters["learning_rate"] == 1e-4 and launched.model == "Qwen/Qwen2.5-7B"

    refused = member_session.post(
        reverse("console:run-create", args=[project.pk]), {**fields, "training_yaml_name": "configs/gone.yaml"}
    )
    assert refused.status_code == 400
    assert "Not found under the training directory: configs/gone.yaml" in refused.content.decode()


def test_it_launches_the_copy_with_all_of_its_resources_through_the_gpu_checks(member_session, project, settings):
    settings.GPU_IDS = "0:NVIDIA A100-SXM4-80GB,1:NVIDIA A100-SXM4-80GB,2:NVIDIA L4"
    fields = {"gpu_count": 2, "gpu_type": "A100", "resources": '{"memory": "64G"}', "priority": 0}
    url = reverse("console:run-create", args=[project.pk])

    launched = member_session.post(url, fields)
    refused = member_session.post(url, {**fields, "gpu_type": "H100"})
    doubled = member_session.post(url, {**fields, "resources": '{"gpu_type": "L4"}'})

    assert launched.status_code == 302
    assert Run.objects.get().resources == {"gpu_count": 2, "gpu_type": "A100", "memory": "64G"}
    assert refused.status_code == 400 and "No GPU here is of type &#x27;H100&#x27;" in refused.content.decode()
    assert doubled.status_code == 400 and "gpu_type have fields of their own" in doubled.content.decode()
    assert Run.objects.count() == 1


def test_it_offers_clone_and_edit_on_the_run_page_to_those_who_may_launch(member_session, source):
    page = member_session.get(reverse("console:run-detail", args=[source.project_id, source.pk])).content.decode()
    assert f'href="{clone_url(source)}#new-run"' in page


def test_it_gives_404_for_a_run_that_is_not_the_projects(owner_session, outsider_session, source, project, owner):
    other = Run.objects.create(project=type(project).objects.create(name="other", created_by=owner), name="x")
    assert (
        owner_session.get(reverse("console:project-detail", args=[project.pk]) + f"?clone={other.pk}").status_code
        == 404
    )
    assert owner_session.get(reverse("console:project-detail", args=[project.pk]) + "?clone=nope").status_code == 404
    assert (
        owner_session.get(reverse("console:project-detail", args=[project.pk]) + f"?clone={uuid.uuid4()}").status_code
        == 404
    )
    assert outsider_session.get(clone_url(source)).status_code == 404
