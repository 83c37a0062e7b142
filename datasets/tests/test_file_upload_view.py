"""PUT /v1/datasets/{id}/files: a multipart upload streamed to disk and validated."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.models import DatasetFile
from datasets.tests.conftest import SFT_RECORD, jsonl, stored_files, upload, upload_raw

pytestmark = pytest.mark.django_db


def test_it_stores_the_file_under_the_training_directory_and_answers_like_the_seed(
    owner_client, make_dataset, training_dir
):
    dataset = make_dataset()
    content = jsonl(SFT_RECORD, SFT_RECORD)

    response = upload(owner_client, dataset.pk, "train.jsonl", content)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["dataset_id"] == str(dataset.pk)
    assert body["filename"] == "train.jsonl"
    assert body["bytes"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["stored_name"] == f"{body['upload_id']}_train.jsonl"
    assert body["path"] == f"datasets/{body['upload_id']}_train.jsonl"
    assert (training_dir / body["path"]).read_bytes() == content
    assert stored_files(training_dir) == [body["path"]]
    assert body["status"] == "ready"
    assert body["records"] == 2


def test_it_lists_the_file_in_the_dataset_record(owner_client, make_dataset):
    dataset = make_dataset()
    upload_id = upload(owner_client, dataset.pk, "train.jsonl", jsonl(SFT_RECORD)).json()["upload_id"]

    record = owner_client.get(f"/v1/datasets/{dataset.pk}").json()

    assert record["status"] == "ready"
    assert record["upload_progress"]["files_count"] == 1
    [listed] = record["files"]
    assert listed["upload_id"] == upload_id
    assert listed["name"] == "train.jsonl"
    assert listed["stored_name"] == f"{upload_id}_train.jsonl"
    assert listed["uploaded_at"]


def test_it_refuses_a_file_over_the_limit_with_413_and_keeps_nothing(
    owner_client, make_dataset, training_dir, settings
):
    settings.MAX_SMALL_FILE_BYTES = 1000
    dataset = make_dataset()

    response = upload(owner_client, dataset.pk, "big.jsonl", jsonl(*[SFT_RECORD] * 20))

    assert response.status_code == 413
    assert "nothing was kept" in response.json()["detail"]
    assert stored_files(training_dir) == []
    assert not DatasetFile.objects.exists()


def test_it_stops_reading_as_soon_as_the_limit_is_passed(owner_client, make_dataset, training_dir, settings):
    """The body is not declared too large up front (the multipart slack hides it), so the
    handler must notice while streaming: the 413 comes with nothing on disk."""
    settings.MAX_SMALL_FILE_BYTES = 10_000
    dataset = make_dataset()

    response = upload(owner_client, dataset.pk, "big.jsonl", b"x" * 10_001)

    assert response.status_code == 413
    assert stored_files(training_dir) == []


def test_it_keeps_a_file_with_errors_and_marks_it_invalid(owner_client, make_dataset):
    dataset = make_dataset()
    content = jsonl(SFT_RECORD) + b"{not json\n" + jsonl({"messages": [{"role": "user", "content": "hi"}]})

    body = upload(owner_client, dataset.pk, "train.jsonl", content).json()

    assert body["status"] == "invalid"
    report = owner_client.get(f"/v1/datasets/{dataset.pk}/files/{body['upload_id']}").json()
    assert report["error_count"] == 2
    assert report["errors"][0]["line"] == 2
    assert report["errors"][0]["reason"].startswith("not valid JSON")
    assert report["errors"][1] == {"line": 3, "field": "messages", "reason": "needs at least one assistant turn"}
    assert owner_client.get(f"/v1/datasets/{dataset.pk}").json()["status"] == "invalid"


@pytest.mark.parametrize(
    ("client_name", "stored_suffix"),
    [
        ("../../etc/passwd.jsonl", "_passwd.jsonl"),
        ("C:\\Users\\me\\train.jsonl", "_train.jsonl"),
        ("..\x00evil.jsonl", "_evil.jsonl"),
        ("tab\tand\x7fdel.jsonl", "_tabanddel.jsonl"),
        ('with"quote<>.jsonl', "_with_quote__.jsonl"),
        ("数据 集.jsonl", "_数据 集.jsonl"),
    ],
)
def test_it_never_uses_the_client_name_as_a_path(owner_client, make_dataset, training_dir, client_name, stored_suffix):
    dataset = make_dataset()

    body = upload_raw(owner_client, dataset.pk, client_name, jsonl(SFT_RECORD)).json()

    assert body["stored_name"] == f"{body['upload_id']}{stored_suffix}"
    assert stored_files(training_dir) == [f"datasets/{body['stored_name']}"]


@pytest.mark.parametrize("client_name", ["..", "...", "dir/", "\x01\x02", "._"])
def test_it_refuses_a_name_with_nothing_left_after_cleaning(owner_client, make_dataset, training_dir, client_name):
    dataset = make_dataset()

    response = upload_raw(owner_client, dataset.pk, client_name, jsonl(SFT_RECORD))

    assert response.status_code == 400
    assert stored_files(training_dir) == []


def test_it_refuses_an_empty_file(owner_client, make_dataset, training_dir):
    response = upload(owner_client, make_dataset().pk, "empty.jsonl", b"")

    assert response.status_code == 400
    assert response.json()["detail"] == "The file is empty; nothing was kept."
    assert stored_files(training_dir) == []


def test_it_refuses_json_with_415(owner_client, make_dataset, training_dir):
    response = owner_client.put(f"/v1/datasets/{make_dataset().pk}/files", {"file": "x"}, format="json")

    assert response.status_code == 415
    assert stored_files(training_dir) == []


def test_it_asks_for_the_file_field(owner_client, make_dataset):
    response = owner_client.put(f"/v1/datasets/{make_dataset().pk}/files", {"other": "x"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["missing"] == ["file"]


def test_it_answers_404_for_an_unknown_dataset_and_stores_nothing(owner_client, training_dir):
    response = upload(owner_client, uuid.uuid4(), "train.jsonl", jsonl(SFT_RECORD))

    assert response.status_code == 404
    assert stored_files(training_dir) == []


def test_it_needs_a_signed_in_user(anonymous_client, make_dataset, training_dir):
    response = upload(anonymous_client, make_dataset().pk, "train.jsonl", jsonl(SFT_RECORD))

    assert response.status_code == 401
    assert stored_files(training_dir) == []


def test_it_lets_only_the_owner_and_staff_add_files_and_hides_the_dataset_from_outsiders(
    owner_client, member_client, outsider_client, staff_client, make_dataset, project, training_dir
):
    dataset = make_dataset(project=project)
    before = stored_files(training_dir)

    assert upload(outsider_client, dataset.pk, "x.jsonl", b"not json\n").status_code == 404
    assert upload(member_client, dataset.pk, "x.jsonl", b"not json\n").status_code == 403
    assert stored_files(training_dir) == before  # nothing kept from either
    assert owner_client.get(f"/v1/datasets/{dataset.pk}").json()["status"] == "empty"
    assert upload(owner_client, dataset.pk, "train.jsonl", jsonl(SFT_RECORD)).status_code == 201
    assert upload(staff_client, dataset.pk, "more.jsonl", jsonl(SFT_RECORD)).status_code == 201
    assert owner_client.get(f"/v1/datasets/{dataset.pk}").json()["status"] == "ready"


def multipart_body(head: bytes, content: bytes, *, closed: bool = True) -> bytes:
    boundary = b"----llmp-test-boundary"
    body = b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + content
    return body + (b"\r\n--" + boundary + b"--\r\n" if closed else b"")


def put_multipart(client, dataset_id, body: bytes):
    content_type = "multipart/form-data; boundary=----llmp-test-boundary"
    return client.generic("PUT", f"/v1/datasets/{dataset_id}/files", body, content_type=content_type)


def test_it_takes_a_file_name_in_rfc_2231_form(owner_client, make_dataset):
    head = b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''%E6%95%B0%E6%8D%AE.jsonl"

    response = put_multipart(owner_client, make_dataset().pk, multipart_body(head, jsonl(SFT_RECORD)))

    assert response.status_code == 201, response.json()
    assert response.json()["filename"] == "数据.jsonl"


def test_it_keeps_nothing_of_a_body_without_its_closing_boundary(owner_client, make_dataset, training_dir):
    head = b'Content-Disposition: form-data; name="file"; filename="train.jsonl"'

    response = put_multipart(owner_client, make_dataset().pk, multipart_body(head, jsonl(SFT_RECORD), closed=False))

    assert response.status_code == 400
    assert "interrupted" in response.json()["detail"]
    assert stored_files(training_dir) == []
    assert not DatasetFile.objects.exists()


def test_it_refuses_form_fields_bigger_than_django_allows(owner_client, make_dataset, training_dir, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    dataset = make_dataset()

    response = owner_client.put(
        f"/v1/datasets/{dataset.pk}/files",
        {"note": "x" * 1001, "file": SimpleUploadedFile("train.jsonl", jsonl(SFT_RECORD))},
        format="multipart",
    )

    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]
    assert stored_files(training_dir) == []


def test_it_names_a_missing_boundary(owner_client, make_dataset):
    response = owner_client.generic(
        "PUT", f"/v1/datasets/{make_dataset().pk}/files", b"--x\r\n", content_type="multipart/form-data"
    )

    assert response.status_code == 400
    assert "boundary" in response.json()["detail"]
