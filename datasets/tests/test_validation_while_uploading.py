"""A resumable upload is checked while its chunks arrive (validate_received_bytes).

django-q2 runs tasks inline in tests (sync=True); the tasks a chunk queues run when
its transaction commits, as they would in a worker.
"""

from __future__ import annotations

import hashlib
import io
import itertools

import pytest
from django.core.cache import cache

from datasets import services
from datasets.models import FileStatus, ValidatedPiece
from datasets.tests.conftest import SFT_RECORD, jsonl
from datasets.tests.test_resumable_upload_view import send, start
from datasets.validation import validate_file

pytestmark = pytest.mark.django_db

BAD_TURN = {"messages": [{"role": "assistant", "content": "a"}]}
# 300 lines; lines 5, 120 and 290 are wrong in two different ways.
LINES = [jsonl(SFT_RECORD)] * 300
LINES[4] = LINES[289] = jsonl(BAD_TURN)
LINES[119] = b"{broken\n"
CONTENT = b"".join(LINES)
CHUNK_BYTES = 1500  # never a whole number of lines


@pytest.fixture
def follow_every_2000_bytes(settings):
    settings.UPLOAD_VALIDATION_STEP_BYTES = 2000
    settings.VALIDATE_INLINE_BYTES = 0


def send_all_but_the_last_chunk(client, upload_id, django_capture_on_commit_callbacks) -> int:
    offset = 0
    while offset + CHUNK_BYTES < len(CONTENT):
        with django_capture_on_commit_callbacks(execute=True):
            send(client, upload_id, offset, CONTENT[offset : offset + CHUNK_BYTES])
        offset += CHUNK_BYTES
    return offset


def test_it_checks_whole_lines_while_the_chunks_arrive(
    owner_client, make_dataset, follow_every_2000_bytes, django_capture_on_commit_callbacks
):
    dataset = make_dataset()
    upload_id = start(owner_client, dataset, total=len(CONTENT)).json()["upload_id"]

    received = send_all_but_the_last_chunk(owner_client, upload_id, django_capture_on_commit_callbacks)

    pieces = list(ValidatedPiece.objects.filter(dataset_file_id=upload_id))
    assert len(pieces) >= len(CONTENT) // 2000 - 1
    assert pieces[0].start == 0
    assert all(earlier.end == later.start for earlier, later in itertools.pairwise(pieces))
    assert all(CONTENT[piece.end - 1 : piece.end] == b"\n" for piece in pieces)  # cut after a whole line
    assert received - 2 * 2000 <= pieces[-1].end <= received
    shown = owner_client.get(f"/v1/datasets/{dataset.pk}/files/{upload_id}").json()
    assert (shown["status"], shown["validated_bytes"]) == ("uploading", pieces[-1].end)


def test_it_reports_the_file_as_one_pass_would_once_finished(
    owner_client, make_dataset, follow_every_2000_bytes, django_capture_on_commit_callbacks, tmp_path
):
    dataset = make_dataset()
    session = start(owner_client, dataset, total=len(CONTENT), sha256=hashlib.sha256(CONTENT).hexdigest()).json()
    upload_id = session["upload_id"]
    offset = send_all_but_the_last_chunk(owner_client, upload_id, django_capture_on_commit_callbacks)
    send(owner_client, upload_id, offset, CONTENT[offset:])

    with django_capture_on_commit_callbacks(execute=True):
        finished = owner_client.post(f"/v1/uploads/{upload_id}/finish")
    assert finished.status_code == 200

    reported = owner_client.get(f"/v1/datasets/{dataset.pk}/files/{upload_id}").json()
    one_pass = tmp_path / "one-pass.jsonl"
    one_pass.write_bytes(CONTENT)
    expected = validate_file(one_pass, "sft")
    assert reported["status"] == "invalid"
    assert [error["line"] for error in reported["errors"]] == [5, 5, 120, 290, 290]
    assert reported["errors"] == expected.errors
    assert (reported["records"], reported["error_count"], reported["stats"]) == (
        expected.records,
        expected.error_count,
        expected.stats,
    )
    assert not ValidatedPiece.objects.filter(dataset_file_id=upload_id).exists()


def test_it_reads_after_finishing_only_what_no_piece_covers(
    owner, make_dataset, follow_every_2000_bytes, django_capture_on_commit_callbacks
):
    """The bytes pieces covered are not read again: blanking them after the pieces were
    checked (which no client can do) leaves the report as the pieces found it."""
    upload = services.start_resumable_upload(
        dataset=make_dataset(), filename="d.jsonl", total_bytes=len(CONTENT), created_by=owner
    )
    services.append_chunk(dataset_file=upload, offset=0, length=len(CONTENT), stream=io.BytesIO(CONTENT))
    assert services.validate_received_bytes(upload_id=upload.pk) == len(CONTENT)  # the last line is whole too

    upload.partial_path.write_bytes(b"\n" * len(CONTENT))  # 300 blank lines, were they read
    with django_capture_on_commit_callbacks(execute=True):
        services.finish_resumable_upload(dataset_file=upload, actor=owner)

    upload.refresh_from_db()
    assert (upload.status, upload.records, upload.error_count) == (FileStatus.INVALID, 299, 5)
    assert [error["line"] for error in upload.errors] == [5, 5, 120, 290, 290]


def test_it_leaves_an_aborted_upload_alone(owner, make_dataset):
    upload = services.start_resumable_upload(
        dataset=make_dataset(), filename="d.jsonl", total_bytes=len(CONTENT), created_by=owner
    )
    services.append_chunk(dataset_file=upload, offset=0, length=4000, stream=io.BytesIO(CONTENT[:4000]))
    services.remove_dataset_file(dataset_file=upload, actor=owner)

    assert services.validate_received_bytes(upload_id=upload.pk) == 0
    assert not ValidatedPiece.objects.exists()


def test_it_waits_for_a_whole_line(owner, make_dataset):
    upload = services.start_resumable_upload(
        dataset=make_dataset(), filename="d.jsonl", total_bytes=len(CONTENT), created_by=owner
    )
    services.append_chunk(dataset_file=upload, offset=0, length=50, stream=io.BytesIO(CONTENT[:50]))

    assert services.validate_received_bytes(upload_id=upload.pk) == 0
    assert not ValidatedPiece.objects.exists()


def test_it_keeps_checking_when_finishing_renames_the_file_meanwhile(owner, make_dataset, monkeypatch):
    upload = services.start_resumable_upload(
        dataset=make_dataset(), filename="d.jsonl", total_bytes=len(CONTENT), created_by=owner
    )
    services.append_chunk(dataset_file=upload, offset=0, length=len(CONTENT), stream=io.BytesIO(CONTENT))
    real_complete_lines_end = services.complete_lines_end

    def complete_lines_end_then_move(*args):
        end = real_complete_lines_end(*args)
        upload.partial_path.rename(upload.partial_path.with_name("moved.jsonl"))  # as finishing would
        return end

    monkeypatch.setattr(services, "complete_lines_end", complete_lines_end_then_move)

    assert services.validate_received_bytes(upload_id=upload.pk) == len(CONTENT)
    assert ValidatedPiece.objects.get().report["error_count"] == 5


def test_it_reads_a_plain_text_corpus_as_text_while_it_arrives(owner, make_dataset):
    corpus = "".join(f"第 {n} 段\n" if n % 5 else "\n" for n in range(100)).encode()
    upload = services.start_resumable_upload(
        dataset=make_dataset("pretrain"), filename="corpus.txt", total_bytes=len(corpus), created_by=owner
    )
    services.append_chunk(dataset_file=upload, offset=0, length=len(corpus), stream=io.BytesIO(corpus))

    assert services.validate_received_bytes(upload_id=upload.pk) == len(corpus)
    piece = ValidatedPiece.objects.get()
    assert (piece.report["records"], piece.report["error_count"]) == (80, 0)


def test_it_leaves_an_upload_to_the_worker_already_checking_it(owner, make_dataset):
    upload = services.start_resumable_upload(
        dataset=make_dataset(), filename="d.jsonl", total_bytes=len(CONTENT), created_by=owner
    )
    services.append_chunk(dataset_file=upload, offset=0, length=len(CONTENT), stream=io.BytesIO(CONTENT))
    cache.add(f"datasets:validating-received:{upload.pk}", True)  # as that worker holds it

    assert services.validate_received_bytes(upload_id=upload.pk) == 0
    assert not ValidatedPiece.objects.exists()

    cache.delete(f"datasets:validating-received:{upload.pk}")  # it is done
    assert services.validate_received_bytes(upload_id=upload.pk) == len(CONTENT)
