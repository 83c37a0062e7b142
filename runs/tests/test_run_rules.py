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


TWO_A100S_AND_AN_L4 = "0:NVIDIA A100-SXM4-80GB,1:NVIDIA A100-SXM4-80GB,2:NVIDIA L4"
HERE = "the GPUs here are 2 × NVIDIA A100-SXM4-80GB, 1 × NVIDIA L4."


@pytest.mark.parametrize(
    ("resources", "says"),
    [
        ({"gpu_count": 4}, f"This host has 3 GPU(s), fewer than the 4 asked for; {HERE}"),
        (
            {"gpu_count": 2, "gpu_type": "L4"},
            f"This host has 1 GPU(s) of type 'L4', fewer than the 2 asked for; {HERE}",
        ),
    ],
)
def test_it_refuses_more_gpus_than_the_host_has_and_names_those_it_has(
    owner_client, admin_client, project, run, settings, resources, says
):
    settings.GPU_IDS = TWO_A100S_AND_AN_L4

    api = owner_client.post(f"/projects/{project.name}/runs", {"resources": resources}, format="json")
    admin = admin_change(admin_client, run, resources=json.dumps(resources))

    assert (api.status_code, admin.status_code) == (400, 200)
    assert api.json()["detail"] == says
    assert admin.context["adminform"].form.errors["resources"] == [says]
    assert list(Run.objects.values_list("resources", flat=True)) == [{"gpu_count": 1}]


def test_it_refuses_gpus_on_a_host_without_any_in_the_console_too(owner_session, project, settings):
    settings.GPU_IDS = ""

    console = console_launch(owner_session, project, gpu_count=1)

    assert console.status_code == 400
    assert console.context["run_form"].non_field_errors() == [
        "This host has 0 GPU(s), fewer than the 1 asked for; "
        "the GPUs here are none (NVML finds no GPU and GPU_IDS is empty)."
    ]
    assert not Run.objects.exists()


def test_it_refuses_more_gpus_than_the_projects_cap_alike(
    owner_client, owner_session, admin_client, project, run, settings
):
    settings.GPU_IDS = TWO_A100S_AND_AN_L4
    project.max_concurrent_gpus = 1
    project.save(update_fields=["max_concurrent_gpus"])
    says = (
        "Project 'qwen-finetune' may hold at most 1 GPU(s) at once (max_concurrent_gpus, set by staff); "
        "this run asks for 2."
    )

    api = owner_client.post(f"/projects/{project.name}/runs", {"resources": {"gpu_count": 2}}, format="json")
    console = console_launch(owner_session, project, gpu_count=2)
    admin = admin_change(admin_client, run, resources=json.dumps({"gpu_count": 2}))

    assert (api.status_code, console.status_code, admin.status_code) == (400, 400, 200)
    assert api.json() == {"detail": says, "max_gpu_count": 1}
    assert console.context["run_form"].non_field_errors() == [says]
    assert admin.context["adminform"].form.errors["resources"] == [says]
    assert list(Run.objects.values_list("resources", flat=True)) == [{"gpu_count": 1}]


def test_it_refuses_to_resume_with_more_gpus_than_the_host_has(
    member_client, member_session, project, finished_checkpoint, settings
):
    settings.GPU_IDS = "0,1"
    checkpoint = finished_checkpoint({"gpu_count": 3})
    source = checkpoint.run
    says = (
        "This host has 2 GPU(s), fewer than the 3 asked for; "
        "the GPUs here are 2 × unnamed (GPU_IDS names them as index:name)."
    )

    api = member_client.post(f"/projects/{project.name}/runs/{source.pk}/resume?source_artifact_id={checkpoint.pk}")
    console = member_session.post(
        reverse("console:run-resume", args=[project.pk, source.pk]),
        {"artifact": checkpoint.pk},
        follow=True,
    )

    assert api.status_code == 400
    assert api.json() == {"detail": says, "max_gpu_count": 2}
    assert [str(message) for message in console.context["messages"]] == [says]
    assert list(Run.objects.values_list("name", flat=True)) == [source.name]


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


def test_it_refuses_a_key_the_projects_trainer_does_not_know_naming_the_one_meant(
    owner_client, owner_session, admin_client, project, run, training_dir
):
    project.trainer = "llamafactory-0.9.x"
    project.save(update_fields=["trainer"])
    (training_dir / project.training_yaml_name).write_text("stage: sft\nfinetuning_type: lora\n")
    says = (
        "hyperparameters key 'batch_size' is unknown to LLaMA-Factory 0.9.5; "
        "did you mean 'per_device_train_batch_size'?"
    )

    api = owner_client.post(f"/projects/{project.name}/runs", {"hyperparameters": {"batch_size": 16}}, format="json")
    console = console_launch(owner_session, project, hyperparameters=json.dumps({"batch_size": 16}))
    admin = admin_change(admin_client, run, hyperparameters=json.dumps({"batch_size": 16}))

    assert (api.status_code, console.status_code, admin.status_code) == (400, 400, 200)
    assert says in api.json()["detail"]
    assert [says in error for error in console.context["run_form"].non_field_errors()] == [True]
    assert admin.context["adminform"].form.errors["hyperparameters"] == [says]
    assert list(Run.objects.values_list("hyperparameters", flat=True)) == [{}]
