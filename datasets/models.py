"""Datasets, their files, and training configs.

Files live under `settings.HOST_TRAINING_DIR` so that a project's `dataset_name` and
`training_yaml_name` can name them; the database keeps the path relative to that
directory (`relative_path`), never an absolute one, so the directory can move.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from llmplatform.users import Visitor

# TaskType is defined with projects, which share the list; datasets name it from here too.
from projects.models import TaskType as TaskType
from projects.sharing import Shared, SharedQuerySet

# Folders under HOST_TRAINING_DIR, named once.
DATASETS_FOLDER = "datasets"
CONFIGS_FOLDER = "configs"
# Unfinished uploads (multipart in flight, resumable sessions): same filesystem as the
# published files, so publishing is an atomic rename; hidden so nobody names one.
PARTIAL_FOLDER = f"{DATASETS_FOLDER}/.partial"


def training_path(relative_path: str) -> Path:
    return Path(settings.HOST_TRAINING_DIR) / relative_path


class FileStatus(models.TextChoices):
    UPLOADING = "uploading", _("Uploading")
    VALIDATING = "validating", _("Validating")
    READY = "ready", _("Ready")
    INVALID = "invalid", _("Invalid")


# A file whose bytes are all here, validated or not.
STORED_STATUSES = frozenset({FileStatus.VALIDATING, FileStatus.READY, FileStatus.INVALID})


class DatasetStatus(models.TextChoices):
    """A dataset's status is derived from its files' (see `Dataset.status`)."""

    EMPTY = "empty", _("No files yet")
    UPLOADING = "uploading", _("Uploading")
    VALIDATING = "validating", _("Validating")
    READY = "ready", _("Ready")
    INVALID = "invalid", _("Invalid")


class DatasetQuerySet(SharedQuerySet["Dataset"]):
    def team_may_see(self) -> Q:
        """Raw personal data stays with its owner (and staff), whatever project it is shared with."""
        return Q(personal_data=False)


class Dataset(Shared):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    # A free-form kind of data the client names ("text2text"); `task_type` is what validation follows.
    type = models.CharField(max_length=64, blank=True, verbose_name=_("type"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    task_type = models.CharField(max_length=16, choices=TaskType.choices, verbose_name=_("task type"))
    metadata = models.JSONField(default=dict, blank=True, verbose_name=_("metadata"))
    # Derived datasets (e.g. a de-identified copy) point at their source.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived", verbose_name=_("parent")
    )
    personal_data = models.BooleanField(
        default=False,
        help_text=_(
            "Raw personal data (it was de-identified into a copy): only its owner and staff see it, "
            "even when it is shared with a project."
        ),
        verbose_name=_("personal data"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="datasets",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    objects = DatasetQuerySet.as_manager()

    class Meta:
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def status(self) -> str:
        """Worst status over the files (uses a prefetched `files` when there is one)."""
        statuses = {file.status for file in self.files.all()}
        for status in (FileStatus.INVALID, FileStatus.VALIDATING, FileStatus.UPLOADING, FileStatus.READY):
            if status in statuses:
                return DatasetStatus(status.value)
        return DatasetStatus.EMPTY


class DatasetFileQuerySet(models.QuerySet["DatasetFile"]):
    def stored(self) -> DatasetFileQuerySet:
        return self.filter(status__in=STORED_STATUSES)

    def uploading(self) -> DatasetFileQuerySet:
        return self.filter(status=FileStatus.UPLOADING)


class DatasetFile(models.Model):
    """One uploaded file; its primary key is the contract's `upload_id`.

    A resumable upload is a DatasetFile in status `uploading` whose bytes grow in
    `partial_path` until it is finished; then it is published like any other file.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="files", verbose_name=_("dataset"))
    name = models.CharField(max_length=255, help_text=_("The client's file name, cleaned."), verbose_name=_("name"))
    stored_name = models.CharField(max_length=300, help_text=_("`<upload_id>_<name>`"), verbose_name=_("stored name"))
    relative_path = models.CharField(
        max_length=400, help_text=_("Relative to HOST_TRAINING_DIR."), verbose_name=_("relative path")
    )
    status = models.CharField(max_length=16, choices=FileStatus.choices, db_index=True, verbose_name=_("status"))
    bytes = models.BigIntegerField(default=0, verbose_name=_("bytes"))
    sha256 = models.CharField(max_length=64, blank=True, verbose_name=_("sha256"))
    # Resumable uploads: what the client announced, and how far it got.
    expected_bytes = models.BigIntegerField(null=True, blank=True, verbose_name=_("expected bytes"))
    expected_sha256 = models.CharField(max_length=64, blank=True, verbose_name=_("expected sha256"))
    received_bytes = models.BigIntegerField(default=0, verbose_name=_("received bytes"))
    # The running SHA-256 of the first `hashed_bytes` received (datasets.storage.ResumableSha256),
    # so that finishing a huge upload does not read it all again.
    sha256_state = models.BinaryField(null=True, blank=True, editable=False, verbose_name=_("sha256 state"))
    hashed_bytes = models.BigIntegerField(default=0, editable=False, verbose_name=_("hashed bytes"))
    # Validation: progress, then the report.
    validated_bytes = models.BigIntegerField(default=0, verbose_name=_("validated bytes"))
    records = models.BigIntegerField(null=True, blank=True, verbose_name=_("records"))
    error_count = models.BigIntegerField(default=0, verbose_name=_("error count"))
    errors = models.JSONField(
        default=list,
        blank=True,
        help_text=_("The first errors: {line, field, reason}."),
        verbose_name=_("errors"),
    )
    stats = models.JSONField(default=dict, blank=True, verbose_name=_("stats"))
    validated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("validated at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    uploaded_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the last byte arrived."), verbose_name=_("uploaded at")
    )

    objects = DatasetFileQuerySet.as_manager()

    class Meta:
        verbose_name = _("dataset file")
        verbose_name_plural = _("dataset files")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.stored_name

    @property
    def upload_id(self) -> uuid.UUID:
        return self.id

    @property
    def absolute_path(self) -> Path:
        return training_path(self.relative_path)

    @property
    def partial_path(self) -> Path:
        """Where a resumable upload's bytes collect before it is finished."""
        return training_path(f"{PARTIAL_FOLDER}/{self.id}.part")

    @property
    def valid_records(self) -> int | None:
        """The records a trainer can use: all of a ready file's, the well-formed ones of an invalid
        file's (None where its report did not count them, or before it is checked)."""
        if self.status == FileStatus.READY:
            return self.records
        if self.status == FileStatus.INVALID:
            return self.stats.get("valid_records")
        return None

    @property
    def validation_progress(self) -> float:
        if self.status in (FileStatus.READY, FileStatus.INVALID):
            return 1.0
        if self.status != FileStatus.VALIDATING or not self.bytes:
            return 0.0
        return round(min(self.validated_bytes / self.bytes, 1.0), 4)

    def can_change(self, user: Visitor) -> bool:
        """Writing, finishing or removing a file changes its dataset: the dataset's owner and staff."""
        return self.dataset.can_change(user)


class ValidatedPiece(models.Model):
    """Bytes [start, end) of a resumable upload, checked while later chunks were still
    arriving. Its report and tallies wait here until the upload is finished; then they
    are joined with the check of the rest, and the pieces go."""

    dataset_file = models.ForeignKey(
        DatasetFile, on_delete=models.CASCADE, related_name="validated_pieces", verbose_name=_("dataset file")
    )
    start = models.BigIntegerField(verbose_name=_("start"))
    end = models.BigIntegerField(verbose_name=_("end"))
    report = models.JSONField(
        help_text=_("The piece's ValidationReport, lines numbered from its first."), verbose_name=_("report")
    )
    tallies = models.JSONField(help_text=_("Its record checker's statistics so far."), verbose_name=_("tallies"))

    class Meta:
        verbose_name = _("validated piece")
        verbose_name_plural = _("validated pieces")
        ordering = ["dataset_file", "start"]
        constraints = [models.UniqueConstraint(fields=["dataset_file", "start"], name="one_validated_piece_per_start")]

    def __str__(self) -> str:
        return f"{self.dataset_file_id} [{self.start}, {self.end})"


class TokenLengthsStatus(models.TextChoices):
    MEASURING = "measuring", _("Measuring")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


# Lengths up to this many tokens are counted exactly; longer ones together, as one more than it.
MAX_COUNTED_TOKENS = 131_072
# The record's whole sequence, the one a trainer cuts at `cutoff_len`, beside its fields.
TOTAL_FIELD = "total"


class TokenLengths(models.Model):
    """How many tokens a ready file's records hold, per field and in all, by one tokenizer.

    `lengths` is `{field: {tokens: records}}`, exact up to MAX_COUNTED_TOKENS, so that any
    `cutoff_len` can be checked against it. The same tokenizer file (by its SHA-256) gives the
    same counts whichever model folder holds it: one measurement per file and tokenizer.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    dataset_file = models.ForeignKey(
        DatasetFile, on_delete=models.CASCADE, related_name="token_lengths", verbose_name=_("dataset file")
    )
    model = models.CharField(max_length=1024, help_text=_("The model folder as it was named."), verbose_name=_("model"))
    tokenizer_path = models.CharField(
        max_length=2048, help_text=_("The tokenizer.json that was read."), verbose_name=_("tokenizer path")
    )
    tokenizer_sha256 = models.CharField(max_length=64, verbose_name=_("tokenizer sha256"))
    status = models.CharField(
        max_length=16,
        choices=TokenLengthsStatus.choices,
        default=TokenLengthsStatus.MEASURING,
        verbose_name=_("status"),
    )
    measured_bytes = models.BigIntegerField(default=0, verbose_name=_("measured bytes"))
    records = models.BigIntegerField(null=True, blank=True, verbose_name=_("records"))
    lengths = models.JSONField(default=dict, blank=True, verbose_name=_("lengths"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("token lengths")
        verbose_name_plural = _("token lengths")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["dataset_file", "tokenizer_sha256"], name="one_measurement_per_tokenizer")
        ]

    def __str__(self) -> str:
        return f"{self.dataset_file_id} / {self.model}"

    @property
    def progress(self) -> float:
        if self.status != TokenLengthsStatus.MEASURING:
            return 1.0
        size = self.dataset_file.bytes
        return round(min(self.measured_bytes / size, 1.0), 4) if size else 0.0

    def records_over(self, tokens: int) -> int:
        """Records whose whole sequence holds more than `tokens` tokens."""
        counts = self.lengths.get(TOTAL_FIELD, {})
        return sum(count for length, count in counts.items() if int(length) > tokens)


class TrainConfigQuerySet(SharedQuerySet["TrainConfig"]):
    def current_of(self, user: Visitor) -> TrainConfig | None:
        """The user's own current config: /v1/train-config keeps one per user."""
        if not user.is_authenticated:
            return None
        return self.filter(is_current=True, created_by=user).first()


class TrainConfig(Shared):
    """An uploaded training YAML. Each user has one current config: the newest they uploaded
    through /v1/train-config (or asked to be current)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    filename = models.CharField(
        max_length=255, help_text=_("The client's file name, cleaned."), verbose_name=_("filename")
    )
    stored_name = models.CharField(max_length=300, help_text=_("`<id>_<filename>`"), verbose_name=_("stored name"))
    relative_path = models.CharField(
        max_length=400, help_text=_("Relative to HOST_TRAINING_DIR."), verbose_name=_("relative path")
    )
    size = models.PositiveIntegerField(verbose_name=_("size"))
    sha256 = models.CharField(max_length=64, verbose_name=_("sha256"))
    content = models.TextField(
        help_text=_("The YAML text as uploaded (at most MAX_YAML_BYTES)."), verbose_name=_("content")
    )
    task_type = models.CharField(max_length=16, choices=TaskType.choices, verbose_name=_("task type"))
    # The YAML's `dataset` value, and the dataset whose file it names, when there is one.
    dataset_reference = models.CharField(max_length=1024, blank=True, verbose_name=_("dataset reference"))
    dataset = models.ForeignKey(
        Dataset,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="train_configs",
        verbose_name=_("dataset"),
    )
    warnings = models.JSONField(
        default=list, blank=True, help_text=_("Recommended keys missing, and the like."), verbose_name=_("warnings")
    )
    is_current = models.BooleanField(default=False, verbose_name=_("is current"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    uploaded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("uploaded at"))

    objects = TrainConfigQuerySet.as_manager()

    class Meta:
        verbose_name = _("training config")
        verbose_name_plural = _("training configs")
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by"], condition=Q(is_current=True), name="one_current_train_config_per_user"
            )
        ]

    def __str__(self) -> str:
        return self.stored_name

    @property
    def absolute_path(self) -> Path:
        return training_path(self.relative_path)
