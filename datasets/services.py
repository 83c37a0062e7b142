"""Workflows over datasets, their files and training configs.

Every function is keyword-only and records an audit event for what it changes.
Refusals are `llmplatform.errors` exceptions (a sentence, plus fields such as
`received_bytes`), so a view, the console or another app's service can let them
through unchanged.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction
from audit.services import record_event, signed_in
from datasets.models import (
    CONFIGS_FOLDER,
    DATASETS_FOLDER,
    PARTIAL_FOLDER,
    Dataset,
    DatasetFile,
    FileStatus,
    TaskType,
    TokenLengths,
    TokenLengthsStatus,
    TrainConfig,
    ValidatedPiece,
    training_path,
)
from datasets.storage import (
    PUBLISHED_FILE_MODE,
    READ_CHUNK_BYTES,
    ResumableSha256,
    StagedFile,
    clean_file_name,
    sha256_of,
)
from datasets.token_lengths import load_tokenizer, measure, tokenizer_file, tokenizer_sha256
from datasets.validation import (
    RecordTallies,
    ValidationReport,
    check_range,
    complete_lines_end,
    finish_report,
    record_checker,
)
from datasets.yaml_schema import inspect_training_yaml
from llmplatform.errors import ConflictingState, InvalidInput, OutOfSpace, TooLarge
from llmplatform.sentences import gettext_noop
from llmplatform.training_yaml import TrainingYamlError, load_training_yaml
from llmplatform.users import Actor
from projects.models import Project
from projects.trainer_arguments import refuse_unfit_config, trainer_of_upload
from projects.training_files import UnsafePath, path_problem, resolve_training_file

logger = logging.getLogger(__name__)

YAML_SUFFIXES = (".yaml", ".yml")


def staging_directory(folder: str) -> Path:
    """Where files in flight are written: beside their destination, same filesystem."""
    directory = training_path(folder)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


# --- datasets -----------------------------------------------------------------


def create_dataset(
    *,
    name: str,
    type: str = "",
    description: str = "",
    task_type: str,
    metadata: dict[str, Any] | None = None,
    created_by: Actor,
    parent: Dataset | None = None,
    project: Project | None = None,
) -> Dataset:
    """A dataset owned by `created_by`, shared with `project` when one is given (projects.sharing)."""
    if task_type not in TaskType.values:
        raise InvalidInput(
            format_lazy(_("task_type must be one of {choices}."), choices=", ".join(TaskType.values)), field="task_type"
        )
    dataset = Dataset.objects.create(
        name=name,
        type=type,
        description=description,
        task_type=task_type,
        metadata=metadata or {},
        parent=parent,
        project=project,
        created_by=signed_in(created_by),
    )
    record_event(
        actor=created_by,
        action=AuditAction.CREATE,
        target=dataset,
        changes={
            "name": name,
            "task_type": task_type,
            "parent": str(parent.pk) if parent else None,
            "project": str(project.pk) if project else None,
        },
    )
    return dataset


def delete_dataset(*, dataset: Dataset, actor: Actor) -> None:
    """Remove a dataset, its records and every file it stored (uploads in flight too)."""
    files = list(dataset.files.all())
    with transaction.atomic():
        record_event(actor=actor, action=AuditAction.DELETE, target=dataset, changes={"files": len(files)})
        dataset.delete()
    for dataset_file in files:
        for path in _stored_paths(dataset_file):
            path.unlink(missing_ok=True)


# --- files --------------------------------------------------------------------


def _new_file_record(*, dataset: Dataset, name: str, status: str, created_by: Actor, **fields: Any) -> DatasetFile:
    upload_id = uuid.uuid4()
    stored_name = f"{upload_id}_{name}"
    return DatasetFile.objects.create(
        id=upload_id,
        dataset=dataset,
        name=name,
        stored_name=stored_name,
        relative_path=f"{DATASETS_FOLDER}/{stored_name}",
        status=status,
        created_by=signed_in(created_by),
        **fields,
    )


def publish_staged_file(*, dataset: Dataset, staged: StagedFile, filename: str, created_by: Actor) -> DatasetFile:
    """Make a fully received upload part of `dataset`: rename it into place, record it,
    and start its validation. On any failure the staged bytes are removed."""
    with staged:
        name = clean_file_name(filename)
        if staged.size == 0:
            raise InvalidInput(_("The file is empty; nothing was kept."), field="file")
        dataset_file = _publish(
            dataset=dataset,
            name=name,
            created_by=created_by,
            size=staged.size,
            sha256=staged.sha256,
            move=staged.publish,
        )
    start_validation(dataset_file)
    return dataset_file


def add_file_from_path(*, dataset: Dataset, source_path: Path, filename: str, created_by: Actor) -> DatasetFile:
    """Publish an already written file (e.g. a de-identified copy) into `dataset`.

    The file is moved, not copied, when it lies on the training directory's
    filesystem (an atomic rename); otherwise it is copied to a temporary name there,
    hashed as it goes, renamed, and the source removed. Validation starts as for an upload.
    """
    source_path = Path(source_path)
    name = clean_file_name(filename)
    size = source_path.stat().st_size
    sha256 = sha256_of(source_path)

    def move(destination: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            # A temporary file is often 0600: make it readable like any published file first.
            os.chmod(source_path, PUBLISHED_FILE_MODE)
            os.replace(source_path, destination)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            with StagedFile(staging_directory(PARTIAL_FOLDER)) as staged, open(source_path, "rb") as source:
                staged.copy_from(source)
                staged.publish(destination)
            source_path.unlink()

    dataset_file = _publish(dataset=dataset, name=name, created_by=created_by, size=size, sha256=sha256, move=move)
    start_validation(dataset_file)
    return dataset_file


def _publish(
    *, dataset: Dataset, name: str, created_by: Actor, size: int, sha256: str, move: Callable[[Path], None]
) -> DatasetFile:
    """Record the file and move its bytes into place, both or neither."""
    destination: Path | None = None
    try:
        with transaction.atomic():
            dataset_file = _new_file_record(
                dataset=dataset,
                name=name,
                status=FileStatus.VALIDATING,
                created_by=created_by,
                bytes=size,
                sha256=sha256,
                received_bytes=size,
                uploaded_at=timezone.now(),
            )
            destination = dataset_file.absolute_path
            move(destination)
            record_event(
                actor=created_by,
                action=AuditAction.CREATE,
                target=dataset_file,
                changes={"dataset": str(dataset.pk), "name": name, "bytes": size, "sha256": sha256},
            )
    except BaseException:
        if destination is not None:
            destination.unlink(missing_ok=True)
        raise
    return dataset_file


def remove_dataset_file(*, dataset_file: DatasetFile, actor: Actor) -> None:
    """Abort an upload in flight, or remove a stored file: the record and the bytes go."""
    paths = _stored_paths(dataset_file)
    with transaction.atomic():
        record_event(
            actor=actor,
            action=AuditAction.DELETE,
            target=dataset_file,
            verb="abort" if dataset_file.status == FileStatus.UPLOADING else "delete",
            changes={"dataset": str(dataset_file.dataset_id), "status": dataset_file.status},
        )
        dataset_file.delete()
    for path in paths:
        path.unlink(missing_ok=True)


def _stored_paths(dataset_file: DatasetFile) -> tuple[Path, Path]:
    """Where a file's bytes may be: published, or still collecting (take before delete())."""
    return dataset_file.absolute_path, dataset_file.partial_path


# --- resumable uploads ------------------------------------------------------------


def start_resumable_upload(
    *, dataset: Dataset, filename: str, total_bytes: int, sha256: str = "", created_by: Actor
) -> DatasetFile:
    """Open an upload session for a large file: chunks are appended to its partial file."""
    name = clean_file_name(filename)
    if total_bytes <= 0:
        raise InvalidInput(_("total_bytes must be positive: an empty file is not a dataset."), field="total_bytes")
    if total_bytes > settings.MAX_LARGE_FILE_BYTES:
        raise TooLarge(
            format_lazy(_("The file is larger than the {limit} bytes allowed."), limit=settings.MAX_LARGE_FILE_BYTES)
        )
    directory = staging_directory(PARTIAL_FOLDER)
    free = shutil.disk_usage(directory).free
    if total_bytes > free:
        raise OutOfSpace(
            format_lazy(
                _("Not enough disk space: {total_bytes} bytes announced, {free} free."),
                total_bytes=total_bytes,
                free=free,
            )
        )
    with transaction.atomic():
        dataset_file = _new_file_record(
            dataset=dataset,
            name=name,
            status=FileStatus.UPLOADING,
            created_by=created_by,
            expected_bytes=total_bytes,
            expected_sha256=sha256.lower(),
        )
        dataset_file.partial_path.touch(exist_ok=False)
        # It becomes the published file by a rename: give it the published mode now.
        dataset_file.partial_path.chmod(PUBLISHED_FILE_MODE)
        record_event(
            actor=created_by,
            action=AuditAction.CREATE,
            target=dataset_file,
            verb="start upload",
            changes={"dataset": str(dataset.pk), "name": name, "total_bytes": total_bytes},
        )
    return dataset_file


class _LockedPartial:
    """The partial file of an upload session, opened and locked for one writer."""

    def __init__(self, dataset_file: DatasetFile) -> None:
        if dataset_file.status != FileStatus.UPLOADING:
            raise ConflictingState(
                format_lazy(
                    _("Upload {upload} is {status}, no longer taking chunks."),
                    upload=dataset_file.pk,
                    status=dataset_file.status,
                )
            )
        try:
            self.file = open(dataset_file.partial_path, "r+b")  # noqa: SIM115 (closed in __exit__)
        except FileNotFoundError:
            raise ConflictingState(
                format_lazy(_("Upload {upload} has no partial file any more; it was aborted."), upload=dataset_file.pk)
            ) from None
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise ConflictingState(
                format_lazy(
                    _("Another request is writing to upload {upload}; retry when it is done."), upload=dataset_file.pk
                )
            ) from None

    @property
    def size(self) -> int:
        return os.fstat(self.file.fileno()).st_size

    def __enter__(self) -> _LockedPartial:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.file.close()  # releases the lock


def append_chunk(*, dataset_file: DatasetFile, offset: int, length: int, stream: BinaryIO) -> int:
    """Append `length` bytes read from `stream` at `offset`; returns the new received size.

    The partial file's size is the truth: an offset that is not exactly it is a
    ConflictingState carrying `received_bytes`, the offset to resume from. Bytes that
    arrived before a broken connection are kept, so the client resumes after them.
    """
    with _LockedPartial(dataset_file) as partial:
        received = partial.size
        if offset != received:
            raise ConflictingState(
                format_lazy(
                    _("The chunk starts at {offset} but the upload has {received} bytes; resume from there."),
                    offset=offset,
                    received=received,
                ),
                received_bytes=received,
            )
        expected = dataset_file.expected_bytes or 0
        if received + length > expected:
            raise TooLarge(
                format_lazy(
                    _("The chunk would take the upload past its announced {expected} bytes."), expected=expected
                )
            )
        # Where no SHA-256 state can be saved, finishing hashes the whole file instead.
        hasher = _running_sha256(dataset_file, partial, received) if ResumableSha256.available() else None
        partial.file.seek(received)
        remaining = length
        try:
            while remaining:
                chunk = stream.read(min(READ_CHUNK_BYTES, remaining))
                if not chunk:
                    break
                partial.file.write(chunk)
                if hasher is not None:
                    hasher.update(chunk)
                remaining -= len(chunk)
        except OSError as exc:
            logger.info("upload %s: connection broke after %s bytes: %s", dataset_file.pk, length - remaining, exc)
        finally:
            # No fsync per chunk: finishing syncs the whole file once before publishing it.
            partial.file.flush()
            received = partial.size
            hashed = {"sha256_state": hasher.state(), "hashed_bytes": offset + length - remaining} if hasher else {}
            DatasetFile.objects.filter(pk=dataset_file.pk, status=FileStatus.UPLOADING).update(
                received_bytes=received, **hashed
            )
    dataset_file.received_bytes = received
    _follow_with_validation(dataset_file, before=offset, now=received)
    if remaining:
        raise InvalidInput(
            format_lazy(
                _("The chunk ended after {written} of {length} bytes; resume from offset {received}."),
                written=length - remaining,
                length=length,
                received=received,
            ),
            received_bytes=received,
        )
    return received


def _running_sha256(dataset_file: DatasetFile, partial: _LockedPartial, size: int) -> ResumableSha256:
    """The upload's SHA-256 so far, brought up to `size` bytes; call it holding the lock.

    Chunks are hashed as they are written and the state is saved with them. Bytes a
    request wrote without saving their hash (it died between the two) are read back,
    and all of them where this Python cannot resume a saved state.
    """
    state, hashed = DatasetFile.objects.filter(pk=dataset_file.pk).values_list("sha256_state", "hashed_bytes").get()
    if not ResumableSha256.available():
        state, hashed = None, 0
    hasher = ResumableSha256(state)
    partial.file.seek(hashed)
    while hashed < size and (chunk := partial.file.read(min(READ_CHUNK_BYTES, size - hashed))):
        hasher.update(chunk)
        hashed += len(chunk)
    return hasher


def _follow_with_validation(dataset_file: DatasetFile, *, before: int, now: int) -> None:
    """Have a worker check what arrived, each time another UPLOAD_VALIDATION_STEP_BYTES are in."""
    step = settings.UPLOAD_VALIDATION_STEP_BYTES
    if step and now // step > before // step:
        _enqueue("datasets.tasks.validate_received_bytes", dataset_file.pk)


def finish_resumable_upload(*, dataset_file: DatasetFile, actor: Actor) -> DatasetFile:
    """Check the size and SHA-256 of a complete upload, publish it and start validation.

    A checksum that does not match means some chunk was corrupted and no resume can
    repair it: the session is discarded (InvalidInput) and the client starts again.
    """
    with _LockedPartial(dataset_file) as partial:
        received = partial.size
        if received != dataset_file.expected_bytes:
            raise ConflictingState(
                format_lazy(
                    _("The upload has {received} of {expected_bytes} bytes; send the rest first."),
                    received=received,
                    expected_bytes=dataset_file.expected_bytes,
                ),
                received_bytes=received,
            )
        digest = _running_sha256(dataset_file, partial, received).hexdigest()
        os.fsync(partial.file.fileno())
        if dataset_file.expected_sha256 and digest != dataset_file.expected_sha256:
            remove_dataset_file(dataset_file=dataset_file, actor=actor)
            raise InvalidInput(
                _("The SHA-256 of the received bytes does not match the one announced; the upload was discarded."),
                expected_sha256=dataset_file.expected_sha256,
                received_sha256=digest,
            )
        with transaction.atomic():
            updated = DatasetFile.objects.filter(pk=dataset_file.pk, status=FileStatus.UPLOADING).update(
                status=FileStatus.VALIDATING,
                bytes=received,
                received_bytes=received,
                sha256=digest,
                uploaded_at=timezone.now(),
            )
            if updated != 1:
                raise ConflictingState(
                    format_lazy(_("Upload {upload} was finished or aborted meanwhile."), upload=dataset_file.pk)
                )
            destination = dataset_file.absolute_path
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(dataset_file.partial_path, destination)
            record_event(
                actor=actor,
                action=AuditAction.ACTION,
                verb="finish upload",
                target=dataset_file,
                changes={"bytes": received, "sha256": digest},
            )
    dataset_file.refresh_from_db()
    start_validation(dataset_file)
    return dataset_file


def purge_abandoned_uploads(*, older_than: timedelta) -> int:
    """Remove upload sessions idle for longer than `older_than`, and stray temporary
    files a killed server left behind; returns how many were removed."""
    cutoff = timezone.now() - older_than
    removed = 0
    for dataset_file in DatasetFile.objects.uploading().filter(created_at__lt=cutoff):
        partial = dataset_file.partial_path
        last_write = partial.stat().st_mtime if partial.exists() else 0
        if last_write < cutoff.timestamp():
            remove_dataset_file(dataset_file=dataset_file, actor=None)
            removed += 1
    live = {f"{pk}.part" for pk in DatasetFile.objects.uploading().values_list("pk", flat=True)}
    for folder in (PARTIAL_FOLDER, DATASETS_FOLDER, CONFIGS_FOLDER):
        directory = training_path(folder)
        if not directory.is_dir():
            continue
        for stray in directory.glob("*.part"):
            if stray.name not in live and stray.stat().st_mtime < cutoff.timestamp():
                stray.unlink(missing_ok=True)
                removed += 1
    return removed


# --- validation ---------------------------------------------------------------


def start_validation(dataset_file: DatasetFile) -> None:
    """Small files are validated at once; bigger ones by a worker once the row is committed."""
    if dataset_file.bytes <= settings.VALIDATE_INLINE_BYTES:
        validate_dataset_file(upload_id=dataset_file.pk)
        dataset_file.refresh_from_db()
        return
    _enqueue("datasets.tasks.validate_dataset_file", dataset_file.pk)


def _enqueue(task: str, upload_id: uuid.UUID) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(task, str(upload_id)))


def validate_received_bytes(*, upload_id: uuid.UUID | str) -> int:
    """Check the whole lines of a resumable upload that arrived after those its pieces
    cover, and keep the result as one more piece; returns how many bytes that was.

    One worker at a time per upload: with several free, the tasks of a fast upload's
    steps would all check the same bytes, each with VALIDATION_PROCESSES processes. A
    task that finds another at work leaves; a later step, or the final check, covers
    what it would have done.
    """
    lock = f"datasets:validating-received:{upload_id}"
    if not cache.add(lock, True, timeout=settings.Q_CLUSTER["timeout"]):
        return 0
    try:
        return _validate_received_bytes(upload_id)
    finally:
        cache.delete(lock)


def _validate_received_bytes(upload_id: uuid.UUID | str) -> int:
    """The partial file only grows at its end (see `append_chunk`), so bytes before
    `received_bytes` are final. An upload aborted meanwhile is left alone, and the
    final check covers whatever no piece does."""
    dataset_file = DatasetFile.objects.select_related("dataset").uploading().filter(pk=upload_id).first()
    if dataset_file is None:
        return 0
    checked = _checked_pieces(dataset_file)
    start = checked[-1].end if checked else 0
    try:
        with open(dataset_file.partial_path, "rb") as partial:
            # Finishing renames the partial file, maybe while it is being checked here. This
            # name for the open file keeps reaching the same bytes, also from the processes
            # that check its pieces (forked from this one, they share the descriptor).
            held = Path(f"/proc/{os.getpid()}/fd/{partial.fileno()}")
            end = complete_lines_end(held, start, dataset_file.received_bytes)
            if end == start:
                return 0
            report, checker = check_range(
                held,
                dataset_file.dataset.task_type,
                start=start,
                end=end,
                processes=settings.VALIDATION_PROCESSES,
                name=dataset_file.name,
            )
    except FileNotFoundError:
        return 0
    try:
        with transaction.atomic():
            # Locked so that a final check that already joined the pieces (and is done
            # with them) waits for this one, or this one sees it is too late.
            unjoined = DatasetFile.objects.select_for_update().filter(
                pk=dataset_file.pk, status__in=(FileStatus.UPLOADING, FileStatus.VALIDATING)
            )
            if not unjoined.exists():
                return 0
            ValidatedPiece.objects.create(
                dataset_file=dataset_file, start=start, end=end, report=report.state(), tallies=checker.state()
            )
            unjoined.filter(status=FileStatus.UPLOADING).update(validated_bytes=end)
    except IntegrityError:  # another task stored this piece first, or the upload was aborted
        return 0
    return end - start


def _checked_pieces(dataset_file: DatasetFile) -> list[ValidatedPiece]:
    """The pieces checked while the file arrived that follow on from its first byte, in order."""
    chain: list[ValidatedPiece] = []
    for piece in dataset_file.validated_pieces.all():
        if piece.start != (chain[-1].end if chain else 0):
            break
        chain.append(piece)
    return chain


def _joined_pieces(dataset_file: DatasetFile) -> tuple[ValidationReport, RecordTallies, int]:
    """Those pieces joined: their report, their tallies, and the byte where they stop."""
    report, checker, end = ValidationReport(), record_checker(dataset_file.dataset.task_type), 0
    for piece in _checked_pieces(dataset_file):
        report.append(ValidationReport(**piece.report))
        piece_checker = record_checker(dataset_file.dataset.task_type)
        piece_checker.load(piece.tallies)
        checker.merge(piece_checker)
        end = piece.end
    return report, checker, end


def validate_dataset_file(*, upload_id: uuid.UUID | str) -> DatasetFile | None:
    """Validate one stored file and record the report (no-op if it is gone or done).

    Pieces checked while a resumable upload arrived are taken as they are; only the
    bytes after them are read.
    """
    dataset_file = (
        DatasetFile.objects.select_related("dataset").filter(pk=upload_id, status=FileStatus.VALIDATING).first()
    )
    if dataset_file is None:
        return None
    pending = DatasetFile.objects.filter(pk=dataset_file.pk, status=FileStatus.VALIDATING)
    report, checker, checked = _joined_pieces(dataset_file)
    try:
        rest, rest_checker = check_range(
            dataset_file.absolute_path,
            dataset_file.dataset.task_type,
            start=checked,
            progress=lambda done: pending.update(validated_bytes=checked + done),
            processes=settings.VALIDATION_PROCESSES,
        )
    except FileNotFoundError:
        return None  # removed while we were starting: its record went with it
    report.append(rest)
    checker.merge(rest_checker)
    report = finish_report(report, checker)
    status = FileStatus.READY if report.is_valid else FileStatus.INVALID
    updated = pending.update(
        status=status,
        validated_bytes=report.bytes_read,
        records=report.records,
        error_count=report.error_count,
        errors=report.errors,
        stats=report.stats,
        validated_at=timezone.now(),
    )
    if updated:
        dataset_file.validated_pieces.all().delete()
        dataset_file.refresh_from_db()
        record_event(
            actor=None,
            action=AuditAction.ACTION,
            verb="validate",
            target=dataset_file,
            changes={"status": status, "records": report.records, "errors": report.error_count},
        )
    return dataset_file


# --- token lengths --------------------------------------------------------------


def find_tokenizer(model: str) -> Path:
    """The tokenizer.json of the model folder `model` names: relative to the training directory (where
    trainers read it), else to MODELS_DIR; or an absolute path in one of them. Nothing is downloaded:
    InvalidInput when no such folder holds one (a hub id such as `Qwen/Qwen2.5-7B` not on disk)."""
    problem = path_problem(model) if model else "is not set"
    roots = ((settings.HOST_TRAINING_DIR, "the training directory"), (settings.MODELS_DIR, "MODELS_DIR"))
    for root, root_name in roots if problem is None else ():
        if found := _tokenizer_under(Path(root), root_name, model):
            return found
    if problem:
        sentence = _(
            "No tokenizer.json in a model folder {model!r} ({problem}) under the training directory or "
            "MODELS_DIR; token lengths are measured with the model's own tokenizer, never a downloaded one."
        )
    else:
        sentence = _(
            "No tokenizer.json in a model folder {model!r} under the training directory or MODELS_DIR; "
            "token lengths are measured with the model's own tokenizer, never a downloaded one."
        )
    raise InvalidInput(format_lazy(sentence, model=model, problem=problem), field="model")


def _tokenizer_under(root: Path, root_name: str, model: str) -> Path | None:
    relative = model
    if Path(model).is_absolute():
        resolved, base = Path(model).resolve(), root.resolve()
        if not resolved.is_relative_to(base):
            return None
        relative = str(resolved.relative_to(base))
    try:
        return tokenizer_file(resolve_training_file(relative, root=root, root_name=root_name))
    except (UnsafePath, OSError):
        return None


def measure_token_lengths(*, dataset_file: DatasetFile, model: str, actor: Actor) -> TokenLengths:
    """The token lengths of a ready file by the tokenizer of `model`'s folder: the measurement there is
    (a failed one is started again), else a new one, measured at once when the file is small
    (TOKEN_LENGTHS_INLINE_BYTES) and by a worker otherwise."""
    if dataset_file.status != FileStatus.READY:
        raise ConflictingState(
            format_lazy(
                _("File {name!r} is {status}; token lengths are measured once it is valid."),
                name=dataset_file.name,
                status=dataset_file.status,
            )
        )
    tokenizer = find_tokenizer(model)
    sha256 = tokenizer_sha256(tokenizer)
    fields = {"model": model, "tokenizer_path": str(tokenizer)}
    measured = TokenLengths.objects.filter(dataset_file=dataset_file, tokenizer_sha256=sha256)
    lengths = measured.first()
    if lengths is None:
        try:
            with transaction.atomic():
                lengths = TokenLengths.objects.create(dataset_file=dataset_file, tokenizer_sha256=sha256, **fields)
        except IntegrityError:  # asked twice at once: the other request measures it
            return measured.get()
    elif lengths.status != TokenLengthsStatus.FAILED:
        return lengths  # measured, or being measured
    elif not measured.filter(status=TokenLengthsStatus.FAILED).update(
        status=TokenLengthsStatus.MEASURING, measured_bytes=0, error="", finished_at=None, **fields
    ):
        lengths.refresh_from_db()
        return lengths  # another request started it again
    record_event(
        actor=actor,
        action=AuditAction.ACTION,
        verb="measure token lengths",
        target=dataset_file,
        changes={"model": model, "tokenizer_sha256": sha256},
    )
    if dataset_file.bytes <= settings.TOKEN_LENGTHS_INLINE_BYTES:
        run_token_lengths(lengths_id=lengths.pk)
    else:
        _enqueue("datasets.tasks.measure_token_lengths", lengths.pk)
    lengths.refresh_from_db()
    return lengths


def run_token_lengths(*, lengths_id: uuid.UUID | str) -> TokenLengths | None:
    """Measure, recording progress as the file is read; no-op when it is gone or done."""
    lengths = (
        TokenLengths.objects.select_related("dataset_file__dataset")
        .filter(pk=lengths_id, status=TokenLengthsStatus.MEASURING)
        .first()
    )
    if lengths is None:
        return None
    pending = TokenLengths.objects.filter(pk=lengths.pk, status=TokenLengthsStatus.MEASURING)
    dataset_file = lengths.dataset_file
    try:
        tokenizer = load_tokenizer(Path(lengths.tokenizer_path))
        measured = measure(
            dataset_file.absolute_path,
            dataset_file.dataset.task_type,
            tokenizer,
            progress=lambda done: pending.update(measured_bytes=done),
        )
    except Exception as exc:  # the tokenizers library raises plain Exceptions for a file it cannot read
        logger.warning("token lengths %s failed: %s", lengths.pk, exc)
        pending.update(status=TokenLengthsStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now())
    else:
        pending.update(
            status=TokenLengthsStatus.READY,
            measured_bytes=dataset_file.bytes,
            records=measured.records,
            lengths=measured.lengths,
            finished_at=timezone.now(),
        )
    lengths.refresh_from_db()
    return lengths


# --- training configs -----------------------------------------------------------


def upload_train_config(
    *,
    staged: StagedFile,
    filename: str,
    created_by: Actor,
    make_current: bool = True,
    task_type: str | None = None,
    project: Project | None = None,
) -> TrainConfig:
    """Check an uploaded training YAML and keep it as a record owned by `created_by` (shared
    with `project` when one is given); by default it becomes the uploader's current config.

    Refused (InvalidInput, with the list of problems as `errors`) when it is not YAML,
    not a mapping, or lacks what its task type requires; nothing is kept then.
    """
    with staged:
        name = clean_file_name(filename)
        if not name.lower().endswith(YAML_SUFFIXES):
            raise InvalidInput(_("A training config must be a .yaml or .yml file."), field="file")
        staged.close()
        content = staged.path.read_bytes()
        try:
            mapping = load_training_yaml(content)
        except TrainingYamlError as exc:
            raise InvalidInput(_("The file is not a usable training YAML."), errors=exc.problems) from None
        report = inspect_training_yaml(mapping, task_type)
        if report.problems:
            raise InvalidInput(_("The training YAML has problems."), errors=report.problems, warnings=report.warnings)
        refuse_unfit_config(
            mapping,
            trainer=trainer_of_upload(mapping, project),
            origin=dict.fromkeys(mapping, gettext_noop("the training YAML")),
            what=gettext_noop("The training YAML"),
        )
        config_id = uuid.uuid4()
        stored_name = f"{config_id}_{name}"
        reference = (report.dataset or "").removeprefix("./")
        uploader = signed_in(created_by)
        # Linked only to a dataset the uploader sees: the link shows the dataset's id.
        readable_files = DatasetFile.objects.filter(dataset__in=Dataset.objects.visible_to(uploader or AnonymousUser()))
        linked_file = readable_files.filter(relative_path=reference).first() if reference else None
        fields = {
            "id": config_id,
            "filename": name,
            "stored_name": stored_name,
            "relative_path": f"{CONFIGS_FOLDER}/{stored_name}",
            "size": len(content),
            "sha256": staged.sha256,
            "content": content.decode("utf-8"),
            "task_type": report.task_type,
            "dataset_reference": report.dataset or "",
            "dataset_id": linked_file.dataset_id if linked_file else None,
            "warnings": report.warnings,
            "is_current": make_current,
            "created_by": uploader,
            "project": project,
        }
        config = _create_config(fields, staged)
    record_event(
        actor=created_by,
        action=AuditAction.CREATE,
        target=config,
        changes={
            "filename": name,
            "task_type": config.task_type,
            "current": make_current,
            "project": str(project.pk) if project else None,
        },
    )
    return config


def _create_config(fields: dict[str, Any], staged: StagedFile) -> TrainConfig:
    try:
        return _insert_config(fields, staged)
    except IntegrityError:
        # Another upload of the same user became current between our update and our insert: once more.
        return _insert_config(fields, staged)


def _insert_config(fields: dict[str, Any], staged: StagedFile) -> TrainConfig:
    """Insert the record (taking over its uploader's "current" when asked) and rename the file into place."""
    with transaction.atomic():
        if fields["is_current"]:
            TrainConfig.objects.filter(is_current=True, created_by=fields["created_by"]).update(is_current=False)
        config = TrainConfig.objects.create(**fields)
        staged.publish(training_path(fields["relative_path"]))
    return config


def delete_train_config(*, config: TrainConfig, actor: Actor) -> None:
    path = config.absolute_path
    with transaction.atomic():
        record_event(actor=actor, action=AuditAction.DELETE, target=config, changes={"current": config.is_current})
        config.delete()
    path.unlink(missing_ok=True)
