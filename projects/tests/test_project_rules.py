"""The rules on a project's fields, refused alike by the API, the console and the admin.

They live on the model (projects.models, projects.training_files); each front end
calls them, so a script, a person in the console and an operator in the admin who
type the same thing are told the same sentence.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from llmplatform.testing import admin_form_data
from projects.models import Project
from projects.services import create_project

pytestmark = pytest.mark.django_db
CONSOLE_CREATE = reverse("console:project-create")
ADMIN_ADD = reverse("admin:projects_project_add")


def console_form(**fields: str) -> dict[str, str]:
    return {"name": "qwen-summaries", "status": "active", "default_hyperparameters": "{}", **fields}


def admin_add(admin_client, **fields: str):
    return admin_client.post(ADMIN_ADD, {**admin_form_data(admin_client.get(ADMIN_ADD)), **fields})


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("a/b", "must not contain '/' or control characters"),
        ("3f2504e0-4f89-41d3-9a0c-0305e82c3301", "must not be a UUID (projects are referenced by id or name)"),
    ],
)
def test_it_refuses_a_name_that_cannot_address_the_project(owner_client, owner_session, admin_client, name, says):
    api = owner_client.post("/projects", {"name": name}, format="json")
    console = owner_session.post(CONSOLE_CREATE, console_form(name=name))
    admin = admin_add(admin_client, name=name)

    assert (api.status_code, console.status_code, admin.status_code) == (400, 400, 200)
    assert api.json()["errors"]["name"] == [says]
    assert console.context["form"].errors["name"] == [says]
    assert admin.context["adminform"].form.errors["name"] == [says]
    assert not Project.objects.exists()


@pytest.mark.parametrize("field", ["dataset_name", "training_yaml_name"])
def test_it_refuses_a_training_file_outside_the_training_directory(owner_client, owner_session, admin_client, field):
    says = "'../etc/passwd' must not contain '..' segments"

    api = owner_client.post("/projects", {"name": "qwen-summaries", field: "../etc/passwd"}, format="json")
    console = owner_session.post(CONSOLE_CREATE, console_form(**{field: "../etc/passwd"}))
    admin = admin_add(admin_client, name="qwen-summaries", **{field: "../etc/passwd"})

    assert (api.status_code, console.status_code, admin.status_code) == (400, 400, 200)
    assert api.json()["errors"][field] == [says]
    assert console.context["form"].errors[field] == [says]
    assert admin.context["adminform"].form.errors[field] == [says]
    assert not Project.objects.exists()


def test_it_refuses_a_name_another_project_has(owner, owner_client, owner_session, admin_client):
    create_project(actor=owner, fields={"name": "taken"})
    says = "A project named 'taken' already exists; choose another name."

    api = owner_client.post("/projects", {"name": "taken"}, format="json")
    console = owner_session.post(CONSOLE_CREATE, console_form(name="taken"))
    admin = admin_add(admin_client, name="taken")

    assert (api.status_code, console.status_code, admin.status_code) == (409, 400, 200)
    assert api.json()["detail"] == says
    assert console.context["form"].non_field_errors() == [says]
    assert admin.context["adminform"].form.errors["name"] == [says]
    assert Project.objects.count() == 1


def test_it_refuses_members_nobody_is_called(owner_client, owner_session, member):
    """The admin picks members from the users there are, so it has no name to refuse."""
    says = "unknown users: nobody"

    api = owner_client.post("/projects", {"name": "qwen-summaries", "members": ["bob", "nobody"]}, format="json")
    console = owner_session.post(CONSOLE_CREATE, console_form(members="bob, nobody"))

    assert (api.status_code, console.status_code) == (400, 400)
    assert api.json()["errors"]["members"] == [says]
    assert console.context["form"].errors["members"] == [says]
    assert not Project.objects.exists()


def test_it_keeps_the_priority_ceiling_for_staff(owner_session, admin_client, project):
    """The console's form has no such field: what its owner posts there leaves the ceiling alone."""
    edit = reverse("console:project-edit", args=[project.pk])
    console = owner_session.post(edit, console_form(name=project.name, max_priority="1000"))
    change = reverse("admin:projects_project_change", args=[project.pk])
    refused = admin_client.post(change, {**admin_form_data(admin_client.get(change)), "max_priority": "1001"})
    project.refresh_from_db()
    assert (console.status_code, project.max_priority) == (302, None)

    admin = admin_client.post(change, {**admin_form_data(admin_client.get(change)), "max_priority": "50"})

    assert refused.context["adminform"].form.errors["max_priority"] == [
        "Ensure this value is less than or equal to 1000."
    ]
    assert admin.status_code == 302
    project.refresh_from_db()
    assert project.max_priority == 50
