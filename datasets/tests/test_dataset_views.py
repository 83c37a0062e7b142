"""POST/GET /v1/datasets, GET/DELETE /v1/datasets/{id}: records, permissions, errors."""

from __future__ import annotations

import uuid

import pytest

from audit.models import AuditEvent
from datasets.models import Dataset
from datasets.tests.conftest import SFT_RECORD, jsonl, stored_files, upload

pytestmark = pytest.mark.django_db

SEED_BODY = {
    "name": "chatglm_pairs_v1",
    "type": "text2text",
    "description": "object-storage",
    "task_type": "sft",
    "metadata": {"language": "zh", "records": 1024},
}


def test_it_creates_a_dataset_like_the_seed(owner_client, owner):
    response = owner_client.post("/v1/datasets", SEED_BODY, format="json")

    assert response.status_code == 201
    assert set(response.json()) == {"id", "created_at"}
    dataset = Dataset.objects.get(pk=response.json()["id"])
    assert dataset.created_by == owner
    assert AuditEvent.objects.filter(object_id=str(dataset.pk), actor=owner, action="create").exists()


def test_it_returns_the_seed_record_shape(owner_client):
    dataset_id = owner_client.post("/v1/datasets", SEED_BODY, format="json").json()["id"]

    record = owner_client.get(f"/v1/datasets/{dataset_id}").json()

    assert {key: record[key] for key in SEED_BODY} == SEED_BODY
    assert record["id"] == dataset_id
    assert record["status"] == "empty"
    assert record["files"] == []
    assert record["train_config"] is None
    assert record["upload_progress"]["files_count"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [({"task_type": "sft"}, "name"), ({"name": "x"}, "task_type"), ({"name": "x", "task_type": "rlhf"}, "task_type")],
)
def test_it_names_what_is_wrong_in_a_bad_body(owner_client, body, field):
    response = owner_client.post("/v1/datasets", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["detail"]
    assert not Dataset.objects.exists()


def test_it_lists_to_each_user_what_they_may_see_in_few_queries(
    owner_client, member_client, outsider_client, staff_client, make_dataset, project, django_assert_max_num_queries
):
    for number in range(5):
        dataset = make_dataset(name=f"set-{number}", task_type="pretrain" if number % 2 else "sft", project=project)
        upload(owner_client, dataset.pk, "a.jsonl", jsonl(SFT_RECORD))
    make_dataset(name="private")

    with django_assert_max_num_queries(6):
        listed = member_client.get("/v1/datasets").json()

    assert [record["name"] for record in listed] == [f"set-{n}" for n in reversed(range(5))]
    # SFT records in a pretrain dataset (odd numbers) lack `text`: invalid.
    assert [record["status"] for record in listed] == ["ready", "invalid", "ready", "invalid", "ready"]
    assert {record["project_id"] for record in listed} == {str(project.pk)}
    assert len(member_client.get("/v1/datasets?task_type=pretrain").json()) == 2
    assert [r["name"] for r in member_client.get("/v1/datasets?q=set-3").json()] == ["set-3"]
    assert len(owner_client.get("/v1/datasets").json()) == len(staff_client.get("/v1/datasets").json()) == 6
    response = outsider_client.get("/v1/datasets")
    assert response.json() == [] and response["X-Total-Count"] == "0"


def test_it_shows_a_dataset_to_its_owner_its_project_and_staff_and_to_nobody_else(
    owner_client, member_client, outsider_client, staff_client, make_dataset, project
):
    shared, private = make_dataset(name="shared", project=project), make_dataset(name="private")

    for client in (owner_client, member_client, staff_client):
        assert client.get(f"/v1/datasets/{shared.pk}").json()["name"] == "shared"
    for client in (owner_client, staff_client):
        assert client.get(f"/v1/datasets/{private.pk}").json()["name"] == "private"
    missing = outsider_client.get(f"/v1/datasets/{uuid.uuid4()}")
    for dataset, client in ((shared, outsider_client), (private, outsider_client), (private, member_client)):
        response = client.get(f"/v1/datasets/{dataset.pk}")
        assert (response.status_code, response.json()) == (404, missing.json())  # as if it did not exist
        assert client.get(f"/v1/datasets/{dataset.pk}/files").status_code == 404


def test_it_shares_a_new_dataset_with_a_project_of_its_creator(owner_client, member_client, outsider_client, project):
    by_name = owner_client.post("/v1/datasets", {**SEED_BODY, "project": project.name}, format="json")
    by_id = owner_client.post("/v1/datasets", {**SEED_BODY, "project": str(project.pk)}, format="json")

    assert by_name.status_code == by_id.status_code == 201
    assert member_client.get(f"/v1/datasets/{by_name.json()['id']}").json()["project_id"] == str(project.pk)
    refused = outsider_client.post("/v1/datasets", {**SEED_BODY, "project": project.name}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"detail": "No project 'qwen-finetune' you can share with.", "field": "project"}
    assert not Dataset.objects.filter(created_by__username="mallory").exists()


def test_it_answers_404_for_an_unknown_or_malformed_id(owner_client):
    assert owner_client.get(f"/v1/datasets/{uuid.uuid4()}").status_code == 404
    response = owner_client.get("/v1/datasets/not-a-uuid")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_it_needs_a_signed_in_user(anonymous_client):
    assert anonymous_client.get("/v1/datasets").status_code == 401
    assert anonymous_client.post("/v1/datasets", SEED_BODY, format="json").status_code == 401


def test_it_deletes_a_dataset_with_its_files_for_the_owner_or_staff_only(
    owner_client, member_client, outsider_client, staff_client, make_dataset, project, training_dir
):
    project_files = stored_files(training_dir)
    mine = make_dataset(name="mine", project=project)
    upload(owner_client, mine.pk, "a.jsonl", jsonl(SFT_RECORD))
    other = make_dataset(name="other")

    assert outsider_client.delete(f"/v1/datasets/{mine.pk}").status_code == 404
    assert member_client.delete(f"/v1/datasets/{mine.pk}").status_code == 403
    assert member_client.delete(f"/v1/datasets/{other.pk}").status_code == 404
    assert owner_client.delete(f"/v1/datasets/{mine.pk}").status_code == 204
    assert staff_client.delete(f"/v1/datasets/{other.pk}").status_code == 204
    assert not Dataset.objects.exists()
    assert stored_files(training_dir) == project_files


def test_it_removes_one_stored_file_with_delete_upload(
    owner_client, member_client, outsider_client, make_dataset, project, training_dir
):
    project_files = stored_files(training_dir)
    dataset = make_dataset(project=project)
    upload_id = upload(owner_client, dataset.pk, "a.jsonl", jsonl(SFT_RECORD)).json()["upload_id"]

    assert outsider_client.delete(f"/v1/uploads/{upload_id}").status_code == 404
    assert member_client.delete(f"/v1/uploads/{upload_id}").status_code == 403
    response = owner_client.delete(f"/v1/uploads/{upload_id}")

    assert response.json() == {"upload_id": upload_id, "status": "aborted"}
    assert stored_files(training_dir) == project_files
    assert owner_client.get(f"/v1/datasets/{dataset.pk}").json()["files"] == []
    assert owner_client.delete(f"/v1/uploads/{upload_id}").status_code == 404
