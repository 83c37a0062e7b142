"""The rules on a project's fields, refused alike by the API, the console and the admin.

They live on the model (projects.models, projects.training_files); each front end
calls them, so a script, a person in the console and an operator in the admin who
type the same thing are told the same sentence.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from llmplatform.errors import InvalidInput
from llmplatform.testing import admin_form_data
from projects.models import Project
from projects.services import create_project, update_project

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


# Names a trainer's loader would read as something other than a file under the training directory.
PATH_LIKE_NAMES = [
    ("~/.ssh/id_rsa", "must not start with '~' (a home directory)"),
    ("file:///etc/passwd", "must be a path, not a URL (no 'scheme:', '://' or '::')"),
    ("s3://team-bucket/data.jsonl", "must be a path, not a URL (no 'scheme:', '://' or '::')"),
    ("%2e%2e/%2e%2e/etc/passwd", "must not contain percent-encoded characters (such as %2e)"),
    ("datasets/" + "数据" * 43 + ".jsonl", "must not have a part longer than 255 bytes"),  # 264 bytes, 92 characters
]


@pytest.mark.parametrize("field", ["dataset_name", "training_yaml_name"])
@pytest.mark.parametrize(("name", "reason"), PATH_LIKE_NAMES)
def test_it_refuses_a_training_file_name_that_is_no_relative_path(
    owner_client, owner_session, admin_client, field, name, reason
):
    says = f"{name!r} {reason}"

    api = owner_client.post("/projects", {"name": "qwen-summaries", field: name}, format="json")
    console = owner_session.post(CONSOLE_CREATE, console_form(**{field: name}))
    admin = admin_add(admin_client, name="qwen-summaries", **{field: name})

    assert (api.status_code, console.status_code, admin.status_code) == (400, 400, 200)
    assert api.json()["errors"][field] == [says]
    assert console.context["form"].errors[field] == [says]
    assert admin.context["adminform"].form.errors[field] == [says]
    assert not Project.objects.exists()


def test_it_keeps_a_training_file_name_as_it_was_typed(owner_client, owner_session):
    typed = "./datasets//qwen_demo.jsonl"

    api = owner_client.post("/projects", {"name": "by-api", "dataset_name": typed}, format="json")
    owner_session.post(CONSOLE_CREATE, console_form(name="by-console", dataset_name=typed))

    assert api.status_code == 201
    assert api.json()["dataset_name"] == typed
    assert dict(Project.objects.values_list("name", "dataset_name")) == {"by-api": typed, "by-console": typed}


def nested(depth: int) -> dict:
    """A JSON object `depth` levels deep: {"a": {"a": ... 1}}."""
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize(
    ("hyperparameters", "says"),
    [
        (nested(33), "must not be nested more than 32 levels deep"),
        ({"notes": "x" * 70_000}, "must not be larger than 65536 bytes as JSON (it is 70013)"),
    ],
)
def test_it_refuses_default_hyperparameters_deeper_or_bigger_than_a_config(
    owner_client, owner_session, admin_client, hyperparameters, says
):
    as_text = json.dumps(hyperparameters)

    api = owner_client.post(
        "/projects", {"name": "qwen-summaries", "default_hyperparameters": hyperparameters}, format="json"
    )
    console = owner_session.post(CONSOLE_CREATE, console_form(default_hyperparameters=as_text))
    admin = admin_add(admin_client, name="qwen-summaries", default_hyperparameters=as_text)

    assert (api.status_code, console.status_code, admin.status_code) == (400, 400, 200)
    assert api.json()["errors"]["default_hyperparameters"] == [says]
    assert console.context["form"].errors["default_hyperparameters"] == [says]
    assert admin.context["adminform"].form.errors["default_hyperparameters"] == [says]
    assert not Project.objects.exists()


def test_it_draws_the_line_at_32_levels(owner_client):
    deepest = owner_client.post("/projects", {"name": "deepest", "default_hyperparameters": nested(32)}, format="json")
    deeper = owner_client.post("/projects", {"name": "deeper", "default_hyperparameters": nested(33)}, format="json")

    assert (deepest.status_code, deeper.status_code) == (201, 400)
    assert list(Project.objects.values_list("name", flat=True)) == ["deepest"]


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (
            "bash train.sh {config}",
            "unknown placeholders ['config']; known: ['training_yaml', 'run_id', 'run_dir', 'output_dir', 'dataset']",
        ),
        ("bash 'train.sh {training_yaml}", "its shell quoting does not balance (No closing quotation)"),
        (
            "bash train.sh {training_yaml} > train.log",
            "it is run without a shell, so > would reach the program as plain text; "
            "quote them, or run a script or `sh -c '...'`",
        ),
    ],
)
def test_it_refuses_a_command_template_no_run_could_start_with(staff_client, admin_client, project, command, problem):
    says = f"command {command!r} cannot be used: {problem}"
    change = reverse("admin:projects_project_change", args=[project.pk])

    api = staff_client.patch(f"/projects/{project.name}", {"executor_options": {"command": command}}, format="json")
    admin = admin_client.post(
        change, {**admin_form_data(admin_client.get(change)), "executor_options": json.dumps({"command": command})}
    )

    assert (api.status_code, admin.status_code) == (400, 200)
    assert api.json()["errors"]["executor_options"] == [says]
    assert admin.context["adminform"].form.errors["executor_options"] == [says]
    project.refresh_from_db()
    assert project.executor_options == {}


def test_it_takes_shell_syntax_that_is_quoted_for_a_shell_it_names(staff_client, project):
    quoted = "sh -c 'bash train.sh \"$1\" > train.log' train {training_yaml}"
    bare = "bash train.sh {training_yaml} > train.log"

    refused = staff_client.patch(f"/projects/{project.name}", {"executor_options": {"command": bare}}, format="json")
    taken = staff_client.patch(f"/projects/{project.name}", {"executor_options": {"command": quoted}}, format="json")

    assert (refused.status_code, taken.status_code) == (400, 200)
    assert taken.json()["executor_options"] == {"command": quoted}


def test_the_services_refuse_what_the_forms_refuse(owner, project):
    """A caller that skips the API's and the console's forms is refused in the same words."""
    with pytest.raises(InvalidInput) as refused:
        update_project(project=project, actor=owner, fields={"dataset_name": "~/.ssh/id_rsa"})

    assert refused.value.detail == "dataset_name: '~/.ssh/id_rsa' must not start with '~' (a home directory)"
    assert refused.value.fields == {
        "errors": {"dataset_name": ["'~/.ssh/id_rsa' must not start with '~' (a home directory)"]}
    }
    with pytest.raises(InvalidInput, match=r"^executor_options: command 'bash \{nope\}' cannot be used: unknown"):
        create_project(actor=owner, fields={"name": "scripted", "executor_options": {"command": "bash {nope}"}})
    project.refresh_from_db()
    assert project.dataset_name == "datasets/qwen_demo.jsonl"
    assert not Project.objects.filter(name="scripted").exists()
    with pytest.raises(InvalidInput, match=r"^default_hyperparameters: must not be nested more than 32 levels deep$"):
        create_project(actor=owner, fields={"name": "deep", "default_hyperparameters": nested(40)})
    assert not Project.objects.filter(name="deep").exists()
