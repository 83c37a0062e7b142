"""POST /projects."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from projects.models import Project

BODY = {
    "name": "qwen-finetune",
    "description": "...",
    "owner": "alice",
    "tags": ["demo"],
    "dataset_name": "datasets/qwen_demo.jsonl",
    "training_yaml_name": "configs/qwen_demo.yaml",
    "objective": "...",
    "task_type": "sft",
    "base_model": "llama-2-13b",
    "default_hyperparameters": {"learning_rate": 3e-5, "batch_size": 16},
}


def test_it_creates_a_project_with_the_contract_shape(owner_client, owner):
    response = owner_client.post("/projects", BODY, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    for key, value in BODY.items():
        assert body[key] == value
    assert body["status"] == "active"
    assert body["runs_started"] == 0
    assert body["runs"] == []
    assert [version["version"] for version in body["versions"]] == [1]
    assert body["versions"][0]["changed_by"] == "alice"
    assert {"id", "created_at", "updated_at"} <= body.keys()
    assert Project.objects.get(pk=body["id"]).created_by == owner
    assert AuditEvent.objects.filter(object_id=body["id"], action="create").exists()


def test_it_needs_only_a_name_and_defaults_the_owner_to_the_caller(owner_client):
    response = owner_client.post("/projects", {"name": "tiny"}, format="json")

    assert response.status_code == 201
    assert response.json()["owner"] == "alice"


def test_it_refuses_a_duplicate_name_with_409(owner_client, member_client):
    assert owner_client.post("/projects", {"name": "same"}, format="json").status_code == 201

    response = member_client.post("/projects", {"name": "same"}, format="json")

    assert response.status_code == 409
    assert "same" in response.json()["detail"]
    assert Project.objects.filter(name="same").count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dataset_name", "../etc/passwd"),
        ("dataset_name", "/etc/passwd"),
        ("training_yaml_name", "configs/a\x00.yaml"),
        ("training_yaml_name", "configs/../../x.yaml"),
        ("dataset_name", "data\\x.jsonl"),
    ],
)
def test_it_refuses_paths_that_could_leave_the_training_directory(owner_client, field, value):
    response = owner_client.post("/projects", {"name": "p", field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()["detail"]
    assert not Project.objects.exists()


def test_it_refuses_a_missing_name_and_a_bad_status(owner_client):
    assert owner_client.post("/projects", {}, format="json").status_code == 400
    response = owner_client.post("/projects", {"name": "p", "status": "deleted"}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()["detail"]


def test_it_adds_members_by_username_and_refuses_unknown_ones(owner_client, member):
    response = owner_client.post("/projects", {"name": "p", "members": ["bob", "nobody"]}, format="json")
    assert response.status_code == 400
    assert "nobody" in response.json()["detail"]

    response = owner_client.post("/projects", {"name": "p", "members": ["bob"]}, format="json")
    assert response.status_code == 201
    assert response.json()["members"] == ["bob"]


def test_it_needs_a_signed_in_user(anonymous_client):
    assert anonymous_client.post("/projects", {"name": "p"}, format="json").status_code in {401, 403}
