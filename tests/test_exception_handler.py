"""The one exception handler: each refusal of `llmplatform.errors` reaches a script as
its status and `{"detail": sentence, **fields}`, through the endpoints that refuse with it."""

from __future__ import annotations

import json
import shutil

import pytest

from datasets import services as dataset_services
from datasets.models import Dataset
from llmplatform import errors

pytestmark = pytest.mark.django_db

STATUS_OF_EACH_REFUSAL = {
    errors.InvalidInput: 400,
    errors.NotPermitted: 403,
    errors.NotFound: 404,
    errors.ConflictingState: 409,
    errors.TooLarge: 413,
    errors.UnsupportedMedia: 415,
    errors.OutOfSpace: 507,
}


def assert_answer(response, status: int, body: dict) -> None:
    """The status, and the body byte for byte as DRF renders it: `detail` first, then the fields."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.content == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.fixture
def dataset(owner) -> Dataset:
    return dataset_services.create_dataset(name="chat_pairs", task_type="sft", created_by=owner)


def start_upload(client, dataset: Dataset, **body):
    return client.post(f"/v1/datasets/{dataset.pk}/uploads", body, format="json")


def test_it_maps_every_refusal_of_the_domain():
    assert set(STATUS_OF_EACH_REFUSAL) == set(errors.DomainError.__subclasses__())


@pytest.mark.urls("tests.probe_urls")
@pytest.mark.parametrize(
    ("refusal", "status"), STATUS_OF_EACH_REFUSAL.items(), ids=[refusal.__name__ for refusal in STATUS_OF_EACH_REFUSAL]
)
def test_it_answers_each_refusal_with_its_status_and_fields(owner_client, refusal, status):
    response = owner_client.post(f"/probe/refuse/{refusal.__name__}")

    assert_answer(response, status, {"detail": "Refused for the probe.", "refusal": refusal.__name__})


def test_it_answers_invalid_input_from_a_domain_module_with_400_and_its_field(owner_client, dataset):
    response = start_upload(owner_client, dataset, filename="..", total_bytes=10)

    assert_answer(
        response, 400, {"detail": "The file name '..' has nothing usable left after cleaning.", "field": "filename"}
    )


def test_it_answers_not_permitted_with_403(owner_client):
    body = {"text": ["13812345678"], "options": {"return_mapping": True}}
    response = owner_client.post("/v1/deidentify:test", body, format="json")

    assert_answer(
        response,
        403,
        {"detail": "return_mapping shows the original personal data; it needs the deid.view_pii_mapping permission."},
    )


def test_it_answers_not_found_with_404_and_what_was_looked_for(owner_client):
    response = owner_client.post("/v1/deidentify:test", {"policy_id": "nope", "text": ["hi"]}, format="json")

    assert_answer(response, 404, {"detail": "No de-identification policy 'nope'.", "policy_id": "nope"})


def test_it_answers_a_state_conflict_with_409_and_where_to_resume(owner_client, dataset):
    upload_id = start_upload(owner_client, dataset, filename="big.jsonl", total_bytes=10).json()["upload_id"]

    response = owner_client.generic(
        "PATCH", f"/v1/uploads/{upload_id}?offset=4", b"abc", content_type="application/octet-stream"
    )

    assert_answer(
        response,
        409,
        {"detail": "The chunk starts at 4 but the upload has 0 bytes; resume from there.", "received_bytes": 0},
    )


def test_it_answers_a_state_conflict_of_a_domain_module_with_409(owner_client, dataset):
    response = owner_client.post(f"/v1/datasets/{dataset.pk}/deidentify", {}, format="json")

    assert_answer(response, 409, {"detail": "Dataset 'chat_pairs' has no stored file to de-identify."})


def test_it_answers_too_large_with_413(owner_client, dataset, settings):
    settings.MAX_LARGE_FILE_BYTES = 1000

    response = start_upload(owner_client, dataset, filename="big.jsonl", total_bytes=1001)

    assert_answer(response, 413, {"detail": "The file is larger than the 1000 bytes allowed."})


def test_it_answers_out_of_space_with_507(owner_client, dataset, settings):
    disk = shutil.disk_usage(settings.HOST_TRAINING_DIR).total
    settings.MAX_LARGE_FILE_BYTES = 2 * disk

    response = start_upload(owner_client, dataset, filename="big.jsonl", total_bytes=disk + 1)

    assert response.status_code == 507
    assert response.json()["detail"].startswith(f"Not enough disk space: {disk + 1} bytes announced, ")
    assert list(response.json()) == ["detail"]


def test_it_answers_a_chunk_without_a_length_with_411(owner_client, dataset):
    upload_id = start_upload(owner_client, dataset, filename="big.jsonl", total_bytes=10).json()["upload_id"]

    response = owner_client.generic(
        "PATCH", f"/v1/uploads/{upload_id}?offset=0", b"", content_type="application/octet-stream"
    )

    assert_answer(response, 411, {"detail": "A chunk needs a Content-Length and at least one byte."})


def test_it_answers_a_file_the_parser_will_not_take_with_413(owner_client, dataset, settings):
    settings.MAX_SMALL_FILE_BYTES = 10
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n'
        + b"x" * 100
        + b"\r\n--b--\r\n"
    )

    response = owner_client.generic(
        "PUT", f"/v1/datasets/{dataset.pk}/files", body, content_type="multipart/form-data; boundary=b"
    )

    assert_answer(response, 413, {"detail": "The file is larger than the 10 bytes allowed here; nothing was kept."})
