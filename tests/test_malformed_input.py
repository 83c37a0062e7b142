"""Malformed input is a 400 or a 404 wherever it is sent, never a 500: ids that are no ids in any path,
integers past 64 bits and NUL characters in any query parameter, JSON nested deeper than any document
the platform takes, or holding NUL characters, in any body.

Every route and every documented query parameter is tried, with real objects around the malformed
part (a real dataset around a malformed file id), so a route added later is covered without a test.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import NoReverseMatch, resolve, reverse
from rest_framework.test import APIClient

from datasets.models import Dataset
from datasets.tests.conftest import SFT_RECORD, jsonl
from deployments.models import Deployment
from llmplatform.documents import MAX_JSON_DEPTH
from runs.models import Artifact, ArtifactType, Run, RunStatus
from tests.routes import protected_api_routes

MALFORMED_IDS = ["not-a-uuid", "0" * 33, "-" * 36, "bad\x00id", "x" * 300]
MALFORMED_NUMBERS = ["9223372036854775808", "-9223372036854775809", "1" + "0" * 400, "1e999", "NaN", "\x00"]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def nested(depth: int) -> dict:
    document: dict = {}
    for _ in range(depth - 1):
        document = {"a": document}
    return document


@pytest.fixture
def client(staff) -> APIClient:
    """Staff, who may call every operation; a crash answers 500 instead of raising in the test."""
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {staff.auth_token.key}")
    return client


@pytest.fixture
def real_ids(client, project, owner) -> dict[str, str]:
    """A real object for every kind of id a path names."""
    run = Run.objects.create(project=project, name="run-001", status=RunStatus.COMPLETED, created_by=owner)
    artifact = Artifact.objects.create(run=run, name="checkpoint-1", type=ArtifactType.CHECKPOINT, path="/x", step=1)
    dataset = Dataset.objects.create(name="pairs", task_type="sft", created_by=owner)
    deployment = Deployment.objects.create(
        model_path="models/m", served_model_name="m", status="stopped", created_by=owner
    )
    uploaded = client.put(
        f"/v1/datasets/{dataset.pk}/files",
        {"file": SimpleUploadedFile("train.jsonl", jsonl(SFT_RECORD))},
        format="multipart",
    )
    return {
        "project_reference": project.name,
        "run_id": str(run.pk),
        "artifact_id": str(artifact.pk),
        "dataset_id": str(dataset.pk),
        "upload_id": uploaded.json()["upload_id"],
        "deployment_id": str(deployment.pk),
        "policy_id": "default",
    }


def call(client: APIClient, method: str, path: str, body: str = "{}"):
    return client.generic(method, path, body, content_type="application/json")


def crashes(answers: dict[str, int]) -> dict[str, int]:
    return {call: status for call, status in answers.items() if status >= 500}


def test_it_answers_a_malformed_id_in_any_path_with_404(client, real_ids):
    answers = {}
    for route in protected_api_routes():
        match = resolve(route.path)
        ids = {name: real_ids.get(name, str(value)) for name, value in match.kwargs.items()}
        for name in ids:
            for malformed in MALFORMED_IDS:
                try:
                    path = reverse(match.view_name, kwargs={**ids, name: malformed})
                except NoReverseMatch:
                    continue  # the route's pattern takes no such value: the resolver answers 404
                for method in METHODS:
                    answers[f"{method} {path}"] = call(client, method, path).status_code
    assert answers and crashes(answers) == {}
    assert {status for status in answers.values()} <= {400, 404, 405}


def test_it_answers_a_malformed_file_id_of_a_dataset_with_404(client, real_ids):
    dataset = real_ids["dataset_id"]

    report = client.get(f"/v1/datasets/{dataset}/files/not-a-uuid")
    preview = client.get(f"/v1/datasets/{dataset}/files/not-a-uuid/preview")

    assert (report.status_code, preview.status_code) == (404, 404)
    assert report.json() == {"detail": "No file not-a-uuid in this dataset."}


def documented_operations(client) -> list[tuple[str, str, dict]]:
    schema = client.get("/openapi.json").json()
    return [
        (method.upper(), template, operation)
        for template, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method.upper() in METHODS
    ]


def concrete(template: str, real_ids: dict[str, str]) -> str:
    """A documented path with real ids (a dummy UUID for kinds no fixture makes)."""
    path = template
    for name in [part[1:-1] for part in template.split("/") if part.startswith("{")]:
        path = path.replace(f"{{{name}}}", quote(real_ids.get(name, "00000000-0000-4000-8000-000000000000")))
    return path


def test_it_answers_huge_numbers_and_nul_characters_in_any_query_parameter_without_a_500(client, real_ids):
    answers = {}
    for method, template, operation in documented_operations(client):
        path = concrete(template, real_ids)
        for parameter in [p for p in operation.get("parameters", []) if p["in"] == "query"]:
            for value in MALFORMED_NUMBERS:
                query = urlencode({parameter["name"]: value})
                answers[f"{method} {path}?{query}"] = call(client, method, f"{path}?{query}").status_code
    assert answers and crashes(answers) == {}


def test_it_refuses_a_url_with_a_nul_character_with_400(client, real_ids):
    response = client.get("/v1/datasets?q=%00")

    assert response.status_code == 400
    assert response.json() == {"detail": "The URL holds a NUL character (%00); no path or query parameter may."}


def test_it_refuses_json_nested_deeper_than_the_limit_in_any_body_without_a_500(client, real_ids):
    answers = {}
    for method, template, operation in documented_operations(client):
        if "application/json" not in operation.get("requestBody", {}).get("content", {}):
            continue
        path = concrete(template, real_ids)
        for depth in (MAX_JSON_DEPTH + 1, 900, 100_000):
            body = "[" * depth + "]" * depth
            answers[f"{method} {path} nested {depth}"] = call(client, method, path, body).status_code
    assert answers and crashes(answers) == {}
    assert {status for status in answers.values()} <= {400, 404, 409}


def test_it_names_the_depth_limit_of_a_json_body(client):
    response = call(
        client,
        "POST",
        "/v1/datasets",
        json.dumps({"name": "d", "task_type": "sft", "metadata": nested(MAX_JSON_DEPTH + 1)}),
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"JSON parse error - the document is nested more than {MAX_JSON_DEPTH} levels deep."
    }
    assert not Dataset.objects.filter(name="d").exists()


def test_it_takes_json_nested_as_deep_as_the_limit(client):
    body = {"name": "d", "task_type": "sft", "metadata": nested(MAX_JSON_DEPTH - 1)}

    response = call(client, "POST", "/v1/datasets", json.dumps(body))

    assert response.status_code == 201
    assert Dataset.objects.get(name="d").metadata == nested(MAX_JSON_DEPTH - 1)


def test_it_refuses_nul_characters_in_a_json_body(client):
    body = {"name": "d", "task_type": "sft", "metadata": {"note\x00": "a\x00b"}}

    response = call(client, "POST", "/v1/datasets", json.dumps(body))

    assert response.status_code == 400
    assert response.json()["detail"] == "JSON parse error - `metadata` holds a NUL character (\\u0000); no string may."
    assert not Dataset.objects.filter(name="d").exists()
