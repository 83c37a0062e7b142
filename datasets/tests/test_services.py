"""The services other apps call (create_dataset, add_file_from_path) and background validation."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django_q.models import Schedule, Task
from django_q.tasks import async_task

from audit.models import AuditEvent
from datasets import services
from datasets.models import Dataset, DatasetFile, FileStatus
from datasets.tasks import purge_abandoned_uploads
from datasets.tests.conftest import SFT_RECORD, jsonl, stored_files
from llmplatform.errors import InvalidInput

pytestmark = pytest.mark.django_db


def test_it_creates_a_derived_dataset_and_audits_it(owner):
    source = services.create_dataset(name="raw", task_type="sft", created_by=owner, metadata={"language": "zh"})

    derived = services.create_dataset(
        name="raw-deid", type="text2text", description="de-identified", task_type="sft", created_by=owner, parent=source
    )

    assert derived.parent == source
    assert list(source.derived.all()) == [derived]
    assert derived.status == "empty"
    assert AuditEvent.objects.filter(object_id=str(derived.pk), action="create").exists()


def test_it_refuses_an_unknown_task_type(owner):
    with pytest.raises(InvalidInput, match="task_type must be one of"):
        services.create_dataset(name="x", task_type="rlhf", created_by=owner)
    assert not Dataset.objects.exists()


def test_it_moves_a_written_file_into_the_dataset_and_validates_it(owner, training_dir: Path, strict_umask):
    dataset = services.create_dataset(name="deid", task_type="sft", created_by=owner)
    source = training_dir / "work" / "output.jsonl"
    source.parent.mkdir()
    content = jsonl(SFT_RECORD, SFT_RECORD)
    source.write_bytes(content)
    source.chmod(0o600)  # as tempfile makes them

    dataset_file = services.add_file_from_path(
        dataset=dataset, source_path=source, filename="train.deid.jsonl", created_by=owner
    )

    assert not source.exists()
    assert dataset_file.absolute_path.read_bytes() == content
    assert dataset_file.absolute_path.stat().st_mode & 0o777 == 0o644
    assert dataset_file.relative_path == f"datasets/{dataset_file.pk}_train.deid.jsonl"
    assert dataset_file.sha256 == hashlib.sha256(content).hexdigest()
    assert dataset_file.bytes == len(content)
    assert dataset_file.status == FileStatus.READY
    assert dataset_file.records == 2
    assert list(dataset.files.all()) == [dataset_file]


def test_it_validates_a_big_file_in_a_background_task_with_visible_progress(
    owner, settings, django_capture_on_commit_callbacks, monkeypatch, training_dir
):
    """VALIDATE_INLINE_BYTES=0 sends every file to django-q2 (run inline in tests: sync=True)."""
    settings.VALIDATE_INLINE_BYTES = 0
    monkeypatch.setattr("datasets.validation.PROGRESS_EVERY_BYTES", 1000)
    dataset = services.create_dataset(name="big", task_type="sft", created_by=owner)
    source = training_dir / "big.jsonl"
    source.write_bytes(jsonl(*[SFT_RECORD] * 20))
    progress_seen: list[float] = []
    real_check_range = services.check_range

    def check_and_watch(path, task_type, *, progress, **options):
        def report(done: int) -> None:
            progress(done)
            progress_seen.append(DatasetFile.objects.get(pk=dataset_file.pk).validation_progress)

        return real_check_range(path, task_type, progress=report, **options)

    monkeypatch.setattr(services, "check_range", check_and_watch)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        dataset_file = services.add_file_from_path(
            dataset=dataset, source_path=source, filename="big.jsonl", created_by=owner
        )
    assert dataset_file.status == FileStatus.VALIDATING  # the task is queued only once committed
    for callback in callbacks:
        callback()

    dataset_file.refresh_from_db()
    assert dataset_file.status == FileStatus.READY
    assert dataset_file.records == 20
    assert dataset_file.validation_progress == 1.0
    assert len(progress_seen) >= 3
    assert all(0 < seen < 1 for seen in progress_seen)
    assert progress_seen == sorted(progress_seen)
    assert Task.objects.filter(func="datasets.tasks.validate_dataset_file", success=True).exists()


def test_it_purges_abandoned_uploads_and_stray_temporary_files(owner, training_dir):
    dataset = services.create_dataset(name="d", task_type="sft", created_by=owner)
    session = services.start_resumable_upload(dataset=dataset, filename="big.jsonl", total_bytes=100, created_by=owner)
    stray = training_dir / "datasets" / ".upload-killed.part"
    stray.write_bytes(b"half")
    long_ago = 1_000_000_000
    for path in (session.partial_path, stray):
        os.utime(path, (long_ago, long_ago))
    DatasetFile.objects.filter(pk=session.pk).update(created_at="2001-01-01T00:00:00Z")
    fresh = services.start_resumable_upload(dataset=dataset, filename="new.jsonl", total_bytes=100, created_by=owner)

    call_command("purge_uploads", "--hours", "1")

    assert list(DatasetFile.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert stored_files(training_dir) == [f"datasets/.partial/{fresh.pk}.part"]


def test_it_keeps_recent_uploads_when_purging(owner):
    dataset = services.create_dataset(name="d", task_type="sft", created_by=owner)
    services.start_resumable_upload(dataset=dataset, filename="big.jsonl", total_bytes=100, created_by=owner)

    assert services.purge_abandoned_uploads(older_than=timedelta(hours=1)) == 0


def test_it_schedules_the_purge_hourly_through_the_task_queue(owner, settings):
    schedule = Schedule.objects.get(name="datasets: purge abandoned uploads")
    assert (schedule.func, schedule.schedule_type) == ("datasets.tasks.purge_abandoned_uploads", Schedule.HOURLY)
    settings.UPLOAD_SESSION_MAX_IDLE_HOURS = 0
    dataset = services.create_dataset(name="d", task_type="sft", created_by=owner)
    services.start_resumable_upload(dataset=dataset, filename="big.jsonl", total_bytes=100, created_by=owner)

    async_task(schedule.func)  # sync in tests: runs now

    assert not DatasetFile.objects.exists()
    assert purge_abandoned_uploads() == 0
