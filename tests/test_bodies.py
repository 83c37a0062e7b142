"""MAX_JSON_BODY_BYTES holds for every endpoint but the uploads, whatever the body's type, and nothing of a
refused body reaches the disk (llmplatform.bodies)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files import uploadhandler
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.test import Client
from django.urls import reverse

from datasets.models import Dataset, DatasetFile, TrainConfig
from datasets.tests.conftest import SFT_RECORD, jsonl
from projects.models import Project
from tests.routes import protected_api_routes

LIMIT = 1000
# The endpoints that take uploads, with limits of their own: a dataset file, a training YAML, a chunk.
UPLOAD_ROUTES = {"dataset-files", "train-config", "train-config-record-list", "upload"}
TRAINING_YAML = b"model_name_or_path: qwen\nstage: sft\ndataset: demo\n# " + b"x" * 2 * LIMIT + b"\n"


@pytest.fixture(autouse=True)
def small_body_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT


@pytest.fixture
def temporary_files(monkeypatch) -> list[str]:
    """The temporary files Django's upload handlers create (each is removed when its request ends)."""
    created: list[str] = []

    class Recorded(TemporaryUploadedFile):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            created.append(self.temporary_file_path())

    monkeypatch.setattr(uploadhandler, "TemporaryUploadedFile", Recorded)
    return created


def a_file(size: int, name: str = "big.bin") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"x" * size, content_type="application/octet-stream")


def test_it_refuses_a_multipart_body_over_the_limit_to_a_json_endpoint_with_413(owner_client, temporary_files):
    response = owner_client.post("/projects", {"name": "x", "file": a_file(5 * LIMIT)}, format="multipart")

    assert response.status_code == 413
    assert response.json() == {
        "detail": f"The request body is larger than the limit of {LIMIT} bytes.",
        "limit_bytes": LIMIT,
    }
    assert not Project.objects.filter(name="x").exists()
    assert temporary_files == []


def test_it_keeps_a_multipart_body_within_the_limit_in_memory(owner_client, settings, temporary_files):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024  # above Django's 2.5 MB in-memory threshold

    response = owner_client.post("/projects", {"name": "x", "file": a_file(3 * 1024 * 1024)}, format="multipart")

    assert response.status_code == 201
    assert temporary_files == []


def test_it_refuses_an_oversized_body_of_any_type_to_every_endpoint_but_the_uploads(staff_client, temporary_files):
    """Every write operation refuses the body (413), or never reads it (a 404 for the dummy id, a 415)."""
    staff_client.raise_request_exception = False
    answers = {}
    for route in protected_api_routes():
        if route.name in UPLOAD_ROUTES:
            continue
        for method in ("post", "put", "patch"):
            multipart = getattr(staff_client, method)(route.path, {"name": "x", "file": a_file(5 * LIMIT)})
            as_json = staff_client.generic(
                method.upper(), route.path, json.dumps({"name": "x" * 5 * LIMIT}), content_type="application/json"
            )
            answers[f"{method.upper()} {route.path}"] = (multipart.status_code, as_json.status_code)
    accepted = {call: codes for call, codes in answers.items() if {code // 100 for code in codes} & {2, 5}}
    assert answers and accepted == {}
    assert {json_code for _, json_code in answers.values()} == {413}
    assert temporary_files == []


def test_it_lets_the_upload_endpoints_take_more_than_the_limit(owner_client, owner, training_dir):
    dataset = Dataset.objects.create(name="pairs", task_type="sft", created_by=owner)
    content = jsonl(*[SFT_RECORD] * 20)
    assert len(content) > LIMIT

    as_file = owner_client.put(
        f"/v1/datasets/{dataset.pk}/files", {"file": SimpleUploadedFile("train.jsonl", content)}, format="multipart"
    )
    config = owner_client.put(
        "/v1/train-config", {"file": SimpleUploadedFile("qwen.yaml", TRAINING_YAML)}, format="multipart"
    )
    started = owner_client.post(
        f"/v1/datasets/{dataset.pk}/uploads", {"filename": "big.jsonl", "total_bytes": len(content)}, format="json"
    ).json()
    chunk = owner_client.patch(
        f"/v1/uploads/{started['upload_id']}?offset=0", content, content_type="application/octet-stream"
    )

    assert (as_file.status_code, config.status_code, chunk.status_code) == (201, 200, 200), config.json()
    assert DatasetFile.objects.filter(dataset=dataset, bytes=len(content)).count() == 1
    assert DatasetFile.objects.get(pk=started["upload_id"]).received_bytes == len(content)


def test_it_refuses_a_form_over_the_limit_in_the_console_with_a_413_page(owner_session, temporary_files):
    response = owner_session.post(
        reverse("console:project-create"), {"name": "x", "file": a_file(5 * LIMIT)}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert "is larger than the 1000\xa0bytes a form may carry; nothing of it was kept." in response.content.decode()
    assert not Project.objects.filter(name="x").exists()
    assert temporary_files == []


def test_it_refuses_a_big_body_to_the_login_form_where_the_csrf_check_reads_it(db, temporary_files):
    browser = Client(enforce_csrf_checks=True)
    browser.get(reverse("console:login"))  # the CSRF cookie, so that the check reads the form for its token

    response = browser.post(reverse("console:login"), {"username": "x", "file": a_file(5 * LIMIT)})

    assert response.status_code == 413
    assert temporary_files == []


def test_it_lets_the_console_take_a_training_yaml_bigger_than_the_limit(owner_session, training_dir: Path):
    response = owner_session.post(
        reverse("console:config-upload"), {"file": SimpleUploadedFile("qwen.yaml", TRAINING_YAML)}
    )

    assert response.status_code == 302
    assert TrainConfig.objects.get().filename == "qwen.yaml"
