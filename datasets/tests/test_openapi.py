"""The OpenAPI schema documents every datasets path with its real shapes."""

from __future__ import annotations

import pytest
import yaml

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(owner_client) -> dict:
    response = owner_client.get("/openapi.json")
    assert response.status_code == 200
    return yaml.safe_load(response.content)  # JSON or YAML, whichever the view renders


def test_it_lists_every_contract_path_and_method(schema):
    expected = {
        "/v1/datasets": {"get", "post"},
        "/v1/datasets/{dataset_id}": {"get", "delete"},
        "/v1/datasets/{dataset_id}/files": {"get", "put"},
        "/v1/datasets/{dataset_id}/files/{upload_id}": {"get"},
        "/v1/datasets/{dataset_id}/files/{upload_id}/preview": {"get"},
        "/v1/datasets/{dataset_id}/uploads": {"post"},
        "/v1/uploads/{upload_id}": {"get", "put", "patch", "delete"},  # HEAD works too; schemas omit it
        "/v1/uploads/{upload_id}/finish": {"post"},
        "/v1/train-config": {"get", "put", "delete"},
        "/v1/train-configs": {"get", "post"},
        "/v1/train-configs/{config_id}": {"get", "delete"},
    }
    for path, methods in expected.items():
        assert methods <= set(schema["paths"][path]), path


def test_it_describes_the_upload_as_multipart_with_a_file_field(schema):
    operation = schema["paths"]["/v1/datasets/{dataset_id}/files"]["put"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]

    assert schema["components"]["schemas"][form]["properties"]["file"]["format"] == "binary"
    assert {"201", "413", "415"} <= set(operation["responses"])
    uploaded = operation["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"upload_id", "dataset_id", "bytes", "filename"} <= set(
        schema["components"]["schemas"][uploaded]["properties"]
    )


def test_it_describes_the_dataset_record(schema):
    record = schema["components"]["schemas"]["DatasetRecord"]["properties"]

    assert {
        "id",
        "name",
        "type",
        "description",
        "task_type",
        "metadata",
        "created_at",
        "status",
        "files",
        "train_config",
        "upload_progress",
    } <= set(record)
    assert "files_count" in record["upload_progress"]["properties"]


def test_it_describes_chunks_as_octet_stream(schema):
    operation = schema["paths"]["/v1/uploads/{upload_id}"]["patch"]

    assert "application/octet-stream" in operation["requestBody"]["content"]
    assert "offset" in {parameter["name"] for parameter in operation["parameters"]}


def test_it_bounds_the_numbers_a_preview_and_a_chunk_take_as_the_views_do(schema):
    preview = schema["paths"]["/v1/datasets/{dataset_id}/files/{upload_id}/preview"]["get"]
    chunk = schema["paths"]["/v1/uploads/{upload_id}"]["patch"]
    bounds = {
        (name, where): (parameter["schema"].get("minimum"), parameter["schema"].get("maximum"))
        for where, operation in (("preview", preview), ("chunk", chunk))
        for parameter in operation["parameters"]
        for name in [parameter["name"]]
        if name in {"offset", "limit"}
    }

    assert bounds == {("offset", "preview"): (0, None), ("limit", "preview"): (1, 200), ("offset", "chunk"): (0, None)}
