"""The rules on what a run asks for, refused alike by the launch API, the console and the admin.

They live on the model (runs.models); the API's and the console's launch forms and
the admin's change form of a run all call them, so the same input gets the same sentence.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from llmplatform.testing import admin_form_data
from runs.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(project, owner) -> Run:
    return Run.objects.create(project=project, name="run-001", created_by=owner, resources={"gpu_count": 1})


def console_launch(session, project, **fields: str | int):
    form = {"name": "", "hyperparameters": "{}", "gpu_count": 0, "priority": 0, **fields}
    return session.post(reverse("console:run-create", args=[project.pk]), form)


def admin_change(admin_client, run: Run, **fields: str | int):
    url = reverse("admin:runs_run_change", args=[run.pk])
    return admin_client.post(url, {**admin_form_data(admin_client.get(url)), **fields})


def test_it_refuses_a_priority_out_of_range(owner_client, owner_session, admin_client, project, run):
    says = "Ensure this value is less than or equal to 1000."

    api = owner_client.post(f"/projects/{project.name}/runs", {"priority": 1001}, format="json")
    console = console_launch(owner_session, project, priority=1001)
    admin = admin_change(admin_client, run, priority=1001)

    assert (api.status_code, console.status_code, admin.status_code) == (400, 400, 200)
    assert api.json()["errors"]["priority"] == [says]
    assert console.context["run_form"].errors["priority"] == [says]
    assert admin.context["adminform"].form.errors["priority"] == [says]
    assert list(Run.objects.values_list("priority", flat=True)) == [0]


def test_it_refuses_more_gpus_than_a_run_may_ask_for(owner_client, owner_session, admin_client, project, run):
    says = "Ensure this value is less than or equal to 64."

    api = owner_client.post(f"/projects/{project.name}/runs", {"resources": {"gpu_count": 65}}, format="json")
    console = console_launch(owner_session, project, gpu_count=65)
    admin = admin_change(admin_client, run, resources=json.dumps({"gpu_count": 65}))

    assert (api.status_code, console.status_code, admin.status_code) == (400, 400, 200)
    assert api.json()["errors"]["resources"]["gpu_count"] == [says]
    assert console.context["run_form"].errors["gpu_count"] == [says]
    assert admin.context["adminform"].form.errors["resources"] == [says]
    assert list(Run.objects.values_list("resources", flat=True)) == [{"gpu_count": 1}]


@pytest.mark.parametrize("field", ["dataset", "training_yaml_name"])
def test_it_refuses_a_training_file_outside_the_training_directory(
    owner_client, owner_session, admin_client, project, run, field
):
    says = "'/etc/passwd' must be relative to the training directory, not absolute"

    api = owner_client.post(f"/projects/{project.name}/runs", {field: "/etc/passwd"}, format="json")
    console = console_launch(owner_session, project, **{field: "/etc/passwd"})
    admin = admin_change(admin_client, run, **{field: "/etc/passwd"})

    assert (api.status_code, console.status_code, admin.status_code) == (400, 400, 200)
    assert api.json()["errors"][field] == [says]
    assert console.context["run_form"].errors[field] == [says]
    assert admin.context["adminform"].form.errors[field] == [says]
    assert list(Run.objects.values_list(field, flat=True)) == [""]


@pytest.mark.parametrize("field", ["dataset", "training_yaml_name"])
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("~/.ssh/id_rsa", "must not start with '~' (a home directory)"),
        ("file:///etc/passwd", "must be a path, not a URL (no 'scheme:', '://' or '::')"),
        ("%2e%2e/etc/passwd", "must not contain percent-encoded characters (such as %2e)"),
        ("datasets/" + "x" * 256, "must not have a part longer than 255 bytes"),
    ],
)
def test_it_refuses_a_training_file_name_that_is_no_relative_path(
    owner_client, owner_session, admin_client, project, run, field, name, reason
):
    says = f"{name!r} {reason}"

    api = owner_client.post(f"/projects/{project.name}/runs", {field: name}, format="json")
    console = console_launch(owner_session, project, **{field: name})
    admin = admin_change(admin_client, run, **{field: name})

    assert (api.status_code, console.status_code, admin.status_code) == (400, 400, 200)
    assert api.json()["errors"][field] == [says]
    assert console.context["run_form"].errors[field] == [says]
    assert admin.context["adminform"].form.errors[field] == [says]
    assert list(Run.objects.values_list(field, flat=True)) == [""]


def test_it_refuses_hyperparameters_nested_deeper_than_a_config(
    owner_client, owner_session, admin_client, project, run
):
    says = "must not be nested more than 32 levels deep"
    deep: object = 1
    for _ in range(33):
        deep = {"a": deep}

    api = owner_client.post(f"/projects/{project.name}/runs", {"hyperparameters": deep}, format="json")
    console = console_launch(owner_session, project, hyperparameters=json.dumps(deep))
    admin = admin_change(admin_client, run, hyperparameters=json.dumps(deep))

    assert (api.status_code, console.status_code, admin.status_code) == (400, 400, 200)
    assert api.json()["errors"]["hyperparameters"] == [says]
    assert console.context["run_form"].errors["hyperparameters"] == [says]
    assert admin.context["adminform"].form.errors["hyperparameters"] == [says]
    assert list(Run.objects.values_list("hyperparameters", flat=True)) == [{}]
