"""The resumable upload: create, chunks with offsets, resume, finish with SHA-256, abort."""

from __future__ import annotations

import hashlib

import pytest

from datasets.models import DatasetFile
from datasets.tests.conftest import SFT_RECORD, jsonl, stored_files

pytestmark = pytest.mark.django_db

CONTENT = jsonl(*[SFT_RECORD] * 50)
CONTENT_BYTES = len(CONTENT)


def start(client, dataset, *, total=CONTENT_BYTES, sha256=None, filename="big.jsonl"):
    body = {"filename": filename, "total_bytes": total}
    if sha256 is not None:
        body["sha256"] = sha256
    return client.post(f"/v1/datasets/{dataset.pk}/uploads", body, format="json")


def send(client, upload_id, offset, chunk, *, method="patch", content_type="application/octet-stream"):
    return getattr(client, method)(f"/v1/uploads/{upload_id}?offset={offset}", chunk, content_type=content_type)


def test_it_takes_a_file_in_chunks_and_publishes_it_when_finished(owner_client, make_dataset, training_dir):
    dataset = make_dataset()
    session = start(owner_client, dataset, sha256=hashlib.sha256(CONTENT).hexdigest()).json()
    upload_id = session["upload_id"]
    assert session["status"] == "uploading"
    assert session["offset"] == 0

    middle = len(CONTENT) // 2
    assert send(owner_client, upload_id, 0, CONTENT[:middle]).json()["offset"] == middle
    assert send(owner_client, upload_id, middle, CONTENT[middle:], method="put").json()["offset"] == len(CONTENT)
    # Nobody sees the file under its final name before it is finished.
    assert not (training_dir / session["path"]).exists()

    finished = owner_client.post(f"/v1/uploads/{upload_id}/finish")

    assert finished.status_code == 200, finished.json()
    assert finished.json()["status"] == "ready"
    assert finished.json()["records"] == 50
    assert (training_dir / session["path"]).read_bytes() == CONTENT
    assert stored_files(training_dir) == [session["path"]]


def test_it_publishes_a_file_readable_by_all_whatever_the_umask(owner_client, make_dataset, training_dir, strict_umask):
    session = start(owner_client, make_dataset()).json()
    send(owner_client, session["upload_id"], 0, CONTENT)

    assert owner_client.post(f"/v1/uploads/{session['upload_id']}/finish").status_code == 200
    assert (training_dir / session["path"]).stat().st_mode & 0o777 == 0o644


def test_it_checks_the_sha256_where_no_hash_state_can_be_kept(owner_client, make_dataset, without_openssl_sha256):
    dataset = make_dataset()
    right = start(owner_client, dataset, sha256=hashlib.sha256(CONTENT).hexdigest(), filename="right.jsonl").json()
    wrong = start(owner_client, dataset, sha256=hashlib.sha256(b"other").hexdigest(), filename="wrong.jsonl").json()
    middle = len(CONTENT) // 2
    for session in (right, wrong):
        send(owner_client, session["upload_id"], 0, CONTENT[:middle])
        send(owner_client, session["upload_id"], middle, CONTENT[middle:])

    assert DatasetFile.objects.get(pk=right["upload_id"]).sha256_state is None  # nothing saved per chunk
    finished = owner_client.post(f"/v1/uploads/{right['upload_id']}/finish")
    refused = owner_client.post(f"/v1/uploads/{wrong['upload_id']}/finish")

    assert finished.status_code == 200, finished.json()
    assert finished.json()["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert refused.status_code == 400
    assert refused.json()["received_sha256"] == hashlib.sha256(CONTENT).hexdigest()


def test_it_says_where_to_resume_after_a_broken_connection(owner_client, make_dataset):
    dataset = make_dataset()
    upload_id = start(owner_client, dataset).json()["upload_id"]
    send(owner_client, upload_id, 0, CONTENT[:100])

    head = owner_client.head(f"/v1/uploads/{upload_id}")
    assert head.status_code == 200
    assert head["Upload-Offset"] == "100"
    assert head["Upload-Length"] == str(len(CONTENT))
    assert owner_client.get(f"/v1/uploads/{upload_id}").json()["offset"] == 100

    # A chunk sent again from an old offset is refused with the offset to resume from.
    stale = send(owner_client, upload_id, 0, CONTENT[:100])
    assert stale.status_code == 409
    assert stale.json()["received_bytes"] == 100


def test_it_refuses_to_finish_before_every_byte_arrived(owner_client, make_dataset):
    upload_id = start(owner_client, make_dataset()).json()["upload_id"]
    send(owner_client, upload_id, 0, CONTENT[:10])

    response = owner_client.post(f"/v1/uploads/{upload_id}/finish")

    assert response.status_code == 409
    assert response.json()["received_bytes"] == 10


def test_it_discards_an_upload_whose_checksum_does_not_match(owner_client, make_dataset, training_dir):
    upload_id = start(owner_client, make_dataset(), sha256="0" * 64).json()["upload_id"]
    send(owner_client, upload_id, 0, CONTENT)

    response = owner_client.post(f"/v1/uploads/{upload_id}/finish")

    assert response.status_code == 400
    assert response.json()["received_sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert stored_files(training_dir) == []
    assert not DatasetFile.objects.exists()


def test_it_hashes_the_chunks_as_they_arrive_and_does_not_read_the_file_again_to_finish(
    owner_client, make_dataset, training_dir
):
    """Proof that finishing trusts the hash taken while streaming: bytes changed on disk
    behind the upload's back (no client can) are not noticed."""
    upload_id = start(owner_client, make_dataset(), sha256=hashlib.sha256(CONTENT).hexdigest()).json()["upload_id"]
    middle = len(CONTENT) // 2
    send(owner_client, upload_id, 0, CONTENT[:middle])
    send(owner_client, upload_id, middle, CONTENT[middle:])
    DatasetFile.objects.get(pk=upload_id).partial_path.write_bytes(b" " * len(CONTENT))

    response = owner_client.post(f"/v1/uploads/{upload_id}/finish")

    assert response.status_code == 200, response.json()
    assert response.json()["sha256"] == hashlib.sha256(CONTENT).hexdigest()


def test_it_reads_back_bytes_whose_hash_a_dead_request_never_saved(owner_client, make_dataset):
    upload_id = start(owner_client, make_dataset(), sha256=hashlib.sha256(CONTENT).hexdigest()).json()["upload_id"]
    send(owner_client, upload_id, 0, CONTENT[:100])
    # A request that wrote 200 more bytes and died before it saved their hash.
    with DatasetFile.objects.get(pk=upload_id).partial_path.open("ab") as partial:
        partial.write(CONTENT[100:300])

    assert send(owner_client, upload_id, 300, CONTENT[300:]).status_code == 200
    response = owner_client.post(f"/v1/uploads/{upload_id}/finish")

    assert response.status_code == 200, response.json()
    assert response.json()["sha256"] == hashlib.sha256(CONTENT).hexdigest()


def test_it_refuses_a_chunk_past_the_announced_size(owner_client, make_dataset):
    upload_id = start(owner_client, make_dataset(), total=10).json()["upload_id"]

    assert send(owner_client, upload_id, 0, b"x" * 11).status_code == 413


def test_it_refuses_a_chunk_that_is_not_octet_stream(owner_client, make_dataset):
    upload_id = start(owner_client, make_dataset()).json()["upload_id"]

    response = send(owner_client, upload_id, 0, b"{}", content_type="application/json")

    assert response.status_code == 415


def test_it_needs_an_offset(owner_client, make_dataset):
    upload_id = start(owner_client, make_dataset()).json()["upload_id"]

    response = owner_client.patch(f"/v1/uploads/{upload_id}", b"abc", content_type="application/octet-stream")

    assert response.status_code == 400
    assert response.json()["missing"] == ["offset"]


def test_it_takes_the_offset_from_the_upload_offset_header(owner_client, make_dataset):
    upload_id = start(owner_client, make_dataset()).json()["upload_id"]

    response = owner_client.patch(
        f"/v1/uploads/{upload_id}", b"abc", content_type="application/octet-stream", headers={"Upload-Offset": "0"}
    )

    assert response.status_code == 200
    assert response["Upload-Offset"] == "3"


def test_it_reads_an_empty_offset_parameter_as_none_given(owner_client, make_dataset):
    upload_id = start(owner_client, make_dataset()).json()["upload_id"]

    from_header = owner_client.patch(
        f"/v1/uploads/{upload_id}?offset=",
        b"abc",
        content_type="application/octet-stream",
        headers={"Upload-Offset": "0"},
    )
    neither = owner_client.patch(f"/v1/uploads/{upload_id}?offset=", b"abc", content_type="application/octet-stream")

    assert from_header.status_code == 200
    assert from_header["Upload-Offset"] == "3"
    assert neither.status_code == 400
    assert neither.json()["missing"] == ["offset"]


def test_it_aborts_an_upload_and_removes_its_bytes(owner_client, make_dataset, training_dir):
    upload_id = start(owner_client, make_dataset()).json()["upload_id"]
    send(owner_client, upload_id, 0, CONTENT[:100])

    response = owner_client.delete(f"/v1/uploads/{upload_id}")

    assert response.json() == {"upload_id": upload_id, "status": "aborted"}
    assert stored_files(training_dir) == []
    assert send(owner_client, upload_id, 100, CONTENT[100:]).status_code == 404


def test_it_refuses_an_empty_or_oversized_announcement(owner_client, make_dataset, settings):
    settings.MAX_LARGE_FILE_BYTES = 1000
    dataset = make_dataset()

    assert start(owner_client, dataset, total=0).status_code == 400
    assert start(owner_client, dataset, total=1001).status_code == 413
    assert start(owner_client, dataset, filename="..").status_code == 400
    assert not DatasetFile.objects.exists()


def test_it_lets_only_the_owner_or_staff_start_write_finish_or_abort(
    owner_client, member_client, outsider_client, staff_client, make_dataset, project
):
    dataset = make_dataset(project=project)
    upload_id = start(owner_client, dataset).json()["upload_id"]

    assert start(outsider_client, dataset).status_code == 404
    assert start(member_client, dataset).status_code == 403
    for client, hidden in ((outsider_client, 404), (member_client, 403)):
        assert send(client, upload_id, 0, CONTENT[:10]).status_code == hidden
        assert client.post(f"/v1/uploads/{upload_id}/finish").status_code == hidden
        assert client.delete(f"/v1/uploads/{upload_id}").status_code == hidden
    assert outsider_client.get(f"/v1/uploads/{upload_id}").status_code == 404
    assert outsider_client.head(f"/v1/uploads/{upload_id}").status_code == 404
    assert member_client.get(f"/v1/uploads/{upload_id}").json()["offset"] == 0  # the team sees how far it got
    assert DatasetFile.objects.get(pk=upload_id).received_bytes == 0
    assert staff_client.delete(f"/v1/uploads/{upload_id}").status_code == 200


def test_it_shows_an_upload_in_progress_in_the_dataset_record(owner_client, make_dataset):
    dataset = make_dataset()
    start(owner_client, dataset)

    record = owner_client.get(f"/v1/datasets/{dataset.pk}").json()

    assert record["status"] == "uploading"
    assert record["upload_progress"] == {"files_count": 0, "bytes": 0, "uploading": 1, "validating": 0}
