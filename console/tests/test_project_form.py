"""Creating and editing projects from the console, through projects.services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from projects.models import Project

pytestmark = pytest.mark.django_db
CREATE = reverse("console:project-create")


def form_data(**changes) -> dict:
    return {
        "name": "qwen-summaries",
        "description": "Summaries",
        "owner": "",
        "status": "active",
        "task_type": "sft",
        "dataset_name": "datasets/qwen.jsonl",
        "training_yaml_name": "configs/qwen.yaml",
        "default_hyperparameters": '{"learning_rate": 3e-5}',
        "tags": "demo, zh",
        "members": "bob",
        **changes,
    }


def test_it_creates_a_project_with_its_first_version_and_an_audit_event(owner_session, member):
    response = owner_session.post(CREATE, form_data())
    project = Project.objects.get(name="qwen-summaries")
    assert response["Location"] == reverse("console:project-detail", args=[project.pk])
    assert project.owner == "alice"
    assert project.tags == ["demo", "zh"]
    assert project.default_hyperparameters == {"learning_rate": 3e-5}
    assert list(project.members.all()) == [member]
    assert project.versions.count() == 1
    assert AuditEvent.objects.get(object_id=str(project.pk)).via == "console"


def test_it_offers_an_empty_json_object_for_hyperparameters(owner_session):
    page = owner_session.get(CREATE).content.decode()
    assert "\n{}</textarea>" in page


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("dataset_name", "../etc/passwd", "must not contain &#x27;..&#x27; segments"),
        ("training_yaml_name", "/abs/x.yaml", "must be relative to the training directory"),
        ("default_hyperparameters", "[1, 2]", "Enter a JSON object"),
        ("default_hyperparameters", '{"a": ' * 5000 + "1" + "}" * 5000, "nested more than 64 levels deep"),
        ("default_hyperparameters", '{"note": "a\\u0000b"}', "`note` holds a NUL character"),
        ("default_hyperparameters", "{nope", "Enter a valid JSON"),
        ("members", "bob, nobody", "unknown users: nobody"),
    ],
)
def test_it_refuses_bad_input_naming_the_problem(owner_session, member, field, value, says):
    response = owner_session.post(CREATE, form_data(**{field: value}))
    assert response.status_code == 400
    assert says in response.content.decode()
    assert not Project.objects.exists()


def test_it_refuses_a_duplicate_name(owner_session, project):
    response = owner_session.post(CREATE, form_data(name="qwen-finetune"))
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_it_edits_a_project_adding_a_version_with_the_changes(owner_session, project):
    url = reverse("console:project-edit", args=[project.pk])
    form = owner_session.get(url).content.decode()
    assert 'value="demo, 候选"' in form
    response = owner_session.post(url, form_data(name="qwen-finetune", base_model="qwen2.5-7b", members="bob"))
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.base_model == "qwen2.5-7b"
    latest = project.versions.order_by("-version").first()
    assert latest.changes["base_model"] == ["llama-2-13b", "qwen2.5-7b"]


def test_it_lets_only_the_creator_and_staff_edit(member_session, outsider_session, staff_session, project):
    url = reverse("console:project-edit", args=[project.pk])
    assert member_session.get(url).status_code == 403
    assert outsider_session.get(url).status_code == 404
    assert staff_session.get(url).status_code == 200


def test_it_offers_the_task_types_datasets_use(owner_session):
    form = owner_session.get(CREATE).content.decode()
    select = form.split('name="task_type"')[1].split("</select>")[0]
    assert [part.split('"')[1] for part in select.split("<option value=")[1:]] == ["", "sft", "lora", "rl", "pretrain"]
    assert owner_session.post(CREATE, form_data(task_type="pt")).status_code == 400


def test_it_shows_a_projects_older_task_type_name_as_the_task_type_it_means(owner_session, project):
    Project.objects.filter(pk=project.pk).update(task_type="pt")
    form = owner_session.get(reverse("console:project-edit", args=[project.pk])).content.decode()
    assert '<option value="pretrain" selected>' in form


def test_it_keeps_a_task_type_named_through_the_api_that_is_no_task_type(owner_session, project):
    Project.objects.filter(pk=project.pk).update(task_type="distill")
    url = reverse("console:project-edit", args=[project.pk])
    assert '<option value="distill" selected>' in owner_session.get(url).content.decode()
    assert owner_session.post(url, form_data(name=project.name, task_type="distill")).status_code == 302
