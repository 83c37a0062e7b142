"""Training runs and what they produce: log lines, metric points, artifacts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from llmplatform.errors import InvalidInput, NotFound
from llmplatform.json_lists import list_holds
from llmplatform.leases import Leased
from llmplatform.prepared import Prepared
from llmplatform.sentences import gettext_noop
from llmplatform.transitions import StatusTransitions
from projects.models import MAX_PRIORITY, MIN_PRIORITY, ExecutorKind, Project, validate_hyperparameters
from projects.trainer_arguments import config_problems, schema_for
from projects.training_files import clean_training_path
from runs.executors import get_executor


class RunStatus(models.TextChoices):
    # In Chinese the labels are the ones the teams use: 排队中, 运行中, 已完成, 失败, 已取消.
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


# The two status sets, named once. Everything else asks these.
ACTIVE_STATUSES = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
FINISHED_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})


# What one run may ask for, whoever launches or edits it: a place in the queue
# (higher goes first; MIN_PRIORITY and MAX_PRIORITY are the projects', which cap it)
# and a number of GPUs (`resources.gpu_count`).
MAX_GPU_COUNT = 64


def validate_priority(value: int) -> None:
    MinValueValidator(MIN_PRIORITY)(value)
    MaxValueValidator(MAX_PRIORITY)(value)


def validate_resources(value: dict[str, Any]) -> None:
    """`gpu_count`, when given, is a whole number of GPUs within MAX_GPU_COUNT; other keys are free."""
    gpu_count = value.get("gpu_count") if isinstance(value, dict) else None
    if gpu_count is None:
        return
    if isinstance(gpu_count, bool) or not isinstance(gpu_count, int):
        raise ValidationError(_("Enter a whole number."), code="invalid")
    MinValueValidator(0)(gpu_count)
    MaxValueValidator(MAX_GPU_COUNT)(gpu_count)


# A run's notes and tags, as people write them.
MAX_RUN_NOTES_CHARS = 10_000
MAX_RUN_TAGS = 32
MAX_RUN_TAG_CHARS = 64


def validate_run_tags(value: Any) -> None:
    """A list of at most MAX_RUN_TAGS distinct, non-blank texts of at most MAX_RUN_TAG_CHARS."""
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValidationError(_("must be a list of texts"), code="invalid")
    if len(value) > MAX_RUN_TAGS:
        raise ValidationError(_("at most %(limit)d tags"), code="too_many", params={"limit": MAX_RUN_TAGS})
    for tag in value:
        if not tag.strip() or len(tag) > MAX_RUN_TAG_CHARS or tag != tag.strip():
            raise ValidationError(
                _("each tag is 1 to %(limit)d characters, without spaces around it"),
                code="invalid_tag",
                params={"limit": MAX_RUN_TAG_CHARS},
            )
    if len(set(value)) != len(value):
        raise ValidationError(_("each tag once"), code="duplicate")


def gpu_request(resources: dict[str, Any]) -> tuple[int, str]:
    """(gpu_count, gpu_type) a run's resources ask for: 0 GPUs when absent or malformed, "" for any type."""
    count = resources.get("gpu_count") if isinstance(resources, dict) else None
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        return 0, ""
    return count, str(resources.get("gpu_type") or "").strip()


class RequestedGpuCount(models.Func):
    """`gpu_request(resources)[0]` in SQL: `gpu_count` when it is a whole number above 0, else 0."""

    output_field = models.BigIntegerField()
    template = (  # SQLite, whose JSON is text
        "CASE WHEN json_type(%(expressions)s, '$.gpu_count') = 'integer' "
        "THEN max(json_extract(%(expressions)s, '$.gpu_count'), 0) ELSE 0 END"
    )

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = (
            "CASE WHEN jsonb_typeof(%(expressions)s -> 'gpu_count') = 'number' "
            "AND (%(expressions)s ->> 'gpu_count') ~ '^[0-9]{1,18}$' "
            "THEN (%(expressions)s ->> 'gpu_count')::bigint ELSE 0 END"
        )
        return self.as_sql(compiler, connection, template=template, **extra_context)


# Executors that allocate GPUs themselves (their `queues_itself`): their runs take none from the ledger.
GPUS_OF_THEIR_OWN = (ExecutorKind.SLURM.value,)


def check_gpu_request(*, project: Project, executor: str, resources: dict[str, Any]) -> None:
    """Raise InvalidInput when a run of `project` asking for `resources` could never start, in
    a sentence naming what there is: more GPUs (of its gpu_type) than where `executor` runs
    has, or, where the platform's GPU ledger hands them out, more than the project's GPU cap."""
    count, gpu_type = gpu_request(resources)
    if not count:
        return
    engine = get_executor(executor)
    engine.require_gpus(count=count, gpu_type=gpu_type, options=project.executor_options)
    if not engine.queues_itself and (shortfall := project.gpu_cap_shortfall(count)):
        raise InvalidInput(shortfall, max_gpu_count=project.max_concurrent_gpus)


# Running runs marked for preemption that have not been stopped yet (a resumed run was
# started after it was last preempted).
PREEMPTION_PENDING = models.Q(preempted_at__isnull=False, preempted_at__gte=models.F("started_at"))


# A dispatch pass (runs.scheduling) looks at the first WINDOW runs of each project at each priority (a lane), of
# those that take ledger GPUs and of those that take none: a project starts at most that many of each in one pass
# (the supervisor passes twice a second), and its later runs wait behind them (BEHIND_OWN_PROJECT). Each pass reads
# and sorts every lane's window, so this is what a pass costs per lane (16 took 10-50 % longer at P8's 40 lanes).
WINDOW = 8
WAITING_TO_BE_DISPATCHED = gettext_noop("waiting to be dispatched")
BEHIND_OWN_PROJECT = gettext_noop("waiting for GPUs behind earlier runs of the same project")


class RunQuerySet(models.QuerySet["Run"]):
    def active(self) -> RunQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)

    def finished(self) -> RunQuerySet:
        return self.filter(status__in=FINISHED_STATUSES)

    def in_dispatch_order(self) -> RunQuerySet:
        """Queued runs not yet handed to an executor, highest priority first, then first come first served."""
        return self.filter(status=RunStatus.QUEUED, executor_state={}).order_by("-priority", "created_at")

    def enqueue(self, runs: Sequence[Run]) -> list[Run]:
        """Insert new queued `runs`, in the order given, as the newest of their lanes, each saying why it waits:
        BEHIND_OWN_PROJECT when WINDOW runs of its lane that take ledger GPUs are queued before it, so that no
        dispatch pass looks at it before those have gone (and none has to tell a long queue so, row by row);
        else WAITING_TO_BE_DISPATCHED, until a pass looks at it. Reasons are advice: where this one stops being
        true (a preempted run requeued ahead of it), a dispatch pass corrects it (runs.scheduling)."""
        ahead: dict[tuple[uuid.UUID, int], int] = {}  # per lane, its GPU runs queued before, counted up to WINDOW
        for run in runs:
            if not gpu_request(run.resources)[0] or run.executor in GPUS_OF_THEIR_OWN:
                run.queue_reason = WAITING_TO_BE_DISPATCHED
                continue
            lane = (run.project_id, run.priority)
            if lane not in ahead:  # read through the index run_queue_by_project, WINDOW rows at most
                queued = self.in_dispatch_order().filter(project_id=run.project_id, priority=run.priority)
                ahead[lane] = queued.filter(ledger_gpus__gt=0).order_by()[:WINDOW].count()
            run.queue_reason = BEHIND_OWN_PROJECT if ahead[lane] >= WINDOW else WAITING_TO_BE_DISPATCHED
            ahead[lane] += 1
        return self.bulk_create(runs, batch_size=2000)

    def submitted(self) -> RunQuerySet:
        """Queued runs whose executor holds them in its own queue (a pending Slurm job)."""
        return self.filter(status=RunStatus.QUEUED).exclude(executor_state={})

    def with_tag(self, tag: str) -> RunQuerySet:
        """Runs whose `tags` list holds `tag`."""
        return self.filter(list_holds(self.model, "tags", tag))


class Run(Leased, StatusTransitions):
    """A training run. Its lease (`Leased`) names the one process watching or starting it right now."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs", verbose_name=_("project"))
    name = models.CharField(max_length=200, blank=True, verbose_name=_("name"))
    status = models.CharField(
        max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True, verbose_name=_("status")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    # A cancel asked for without waiting (`?wait=false`): the run stays running until its supervisor
    # has stopped it (runs.services.carry_out_cancel_request).
    cancel_requested_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancel requested at"))

    # What to train: the project's defaults with this run's overrides applied.
    model = models.CharField(max_length=512, blank=True, verbose_name=_("model"))
    dataset = models.CharField(max_length=1024, blank=True, verbose_name=_("dataset"))
    training_yaml_name = models.CharField(max_length=1024, blank=True, verbose_name=_("training YAML name"))
    hyperparameters = models.JSONField(default=dict, blank=True, verbose_name=_("hyperparameters"))
    resources = models.JSONField(default=dict, blank=True, verbose_name=_("resources"))
    # The GPUs it takes from the ledger (runs.scheduling.gpus_needed), kept by the database: dispatch
    # sums those of the whole queue every pass without reading JSON.
    ledger_gpus = models.GeneratedField(
        expression=models.Case(
            models.When(executor__in=GPUS_OF_THEIR_OWN, then=models.Value(0)),
            default=RequestedGpuCount("resources"),
            output_field=models.BigIntegerField(),
        ),
        output_field=models.BigIntegerField(),
        db_persist=True,
        verbose_name=_("ledger GPUs"),
    )
    priority = models.IntegerField(default=0, verbose_name=_("priority"))
    resume_source_artifact = models.ForeignKey(
        "Artifact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resumed_runs",
        verbose_name=_("resume source artifact"),
    )
    # What its launch found worth saying without refusing it (runs.lengths): {code, message, ...figures}.
    warnings = models.JSONField(default=list, blank=True, verbose_name=_("warnings"))

    # How it runs.
    executor = models.CharField(
        max_length=16, choices=ExecutorKind.choices, default=ExecutorKind.LOCAL, verbose_name=_("executor")
    )
    host = models.CharField(
        max_length=255, blank=True, help_text=_("The host whose supervisor watches it."), verbose_name=_("host")
    )
    argv = models.JSONField(default=list, blank=True, verbose_name=_("argv"))
    start_command = models.TextField(blank=True, verbose_name=_("start command"))
    run_dir = models.CharField(max_length=1024, blank=True, verbose_name=_("run dir"))
    output_dir = models.CharField(max_length=1024, blank=True, verbose_name=_("output dir"))
    # Executor bookkeeping: pid + start time, container exec, Slurm job id...
    executor_state = models.JSONField(default=dict, blank=True, verbose_name=_("executor state"))
    gpu_indices = models.JSONField(default=list, blank=True, verbose_name=_("GPU indices"))
    queue_reason = models.CharField(max_length=255, blank=True, verbose_name=_("queue reason"))
    # Whether it is told it waits behind its project's earlier runs, kept by the database: dispatch counts the
    # runs of each lane not told so every pass, from the index run_queue_lanes alone.
    told_behind = models.GeneratedField(
        expression=models.ExpressionWrapper(
            models.Q(queue_reason=BEHIND_OWN_PROJECT), output_field=models.BooleanField()
        ),
        output_field=models.BooleanField(),
        db_persist=True,
        verbose_name=_("told it waits behind its project's earlier runs"),
    )
    exit_code = models.IntegerField(null=True, blank=True, verbose_name=_("exit code"))

    # What the supervisor has seen.
    progress = models.FloatField(default=0.0, verbose_name=_("progress"))
    eta_seconds = models.FloatField(null=True, blank=True, verbose_name=_("ETA seconds"))
    current_step = models.PositiveBigIntegerField(null=True, blank=True, verbose_name=_("current step"))
    total_steps = models.PositiveBigIntegerField(null=True, blank=True, verbose_name=_("total steps"))
    metrics = models.JSONField(
        default=dict, blank=True, help_text=_("Latest value of each metric."), verbose_name=_("metrics")
    )
    gpu_utilization = models.FloatField(null=True, blank=True, verbose_name=_("GPU utilization"))
    log_offset = models.PositiveBigIntegerField(
        default=0, help_text=_("Bytes of the log file ingested."), verbose_name=_("log offset")
    )
    next_log_seq = models.PositiveBigIntegerField(default=1, verbose_name=_("next log seq"))
    ingest_state = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Parser positions in the trainer's files."),
        verbose_name=_("ingest state"),
    )

    # Healing (runs.healing). The status values stay the contract's: a retry is a new run linked
    # to the failed one (which stays `failed`), a stall is a flag on a `running` run, and a
    # preempted run goes back to `queued`.
    retry_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retries",
        help_text=_("The run it retries."),
        verbose_name=_("retry of"),
    )
    attempt = models.PositiveIntegerField(
        default=1, help_text=_("1 for a run launched by people, 2 for its first retry…"), verbose_name=_("attempt")
    )
    retry_due = models.BooleanField(
        default=False,
        help_text=_("Failed, and the platform has yet to decide on a retry."),
        verbose_name=_("retry due"),
    )
    retry_reason = models.CharField(
        max_length=255, blank=True, help_text=_("Why it was, or was not, retried."), verbose_name=_("retry reason")
    )
    stalled_since = models.DateTimeField(null=True, blank=True, verbose_name=_("stalled since"))
    stall_reason = models.CharField(max_length=255, blank=True, verbose_name=_("stall reason"))
    watch_state = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("When steps were last seen, and how long they took."),
        verbose_name=_("watch state"),
    )
    preempted_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The run it made way for."),
        verbose_name=_("preempted by"),
    )
    preempted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("preempted at"))

    # What its team says about it: free text and labels, changed by those who may operate it.
    notes = models.TextField(blank=True, validators=[MaxLengthValidator(MAX_RUN_NOTES_CHARS)], verbose_name=_("notes"))
    tags = models.JSONField(default=list, blank=True, validators=[validate_run_tags], verbose_name=_("tags"))

    objects = RunQuerySet.as_manager()

    class Meta:
        verbose_name = _("run")
        verbose_name_plural = _("runs")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["project", "-created_at"]),
            models.Index(fields=["status", "priority", "created_at"]),
            # Each project's queue in the order dispatch sums its shares in (runs.scheduling.FairShare).
            models.Index(
                fields=["project", "priority", "created_at", "id"],
                condition=models.Q(status="queued"),
                name="run_queue_by_project",
            ),
            # Dispatch counts each project's queue at each priority every pass (runs.scheduling): from this index
            # alone, which holds every column it reads, a tenth of reading the queue's rows.
            models.Index(
                fields=["project", "priority", "ledger_gpus", "told_behind", "executor", "host"],
                condition=models.Q(status="queued", executor_state={}),
                name="run_queue_lanes",
            ),
            # Dispatch asks each project when it last started a GPU run (runs.scheduling).
            models.Index(fields=["project", "-started_at"], name="run_project_started"),
            # The supervisor looks for failures owed a retry every tick: few among many finished runs.
            models.Index(fields=["retry_due"], condition=models.Q(retry_due=True), name="run_retry_due"),
            # The console's runs table filters a project's runs by status or creator, newest first, and sorts by name.
            models.Index(fields=["project", "status", "-created_at"], name="run_project_status_created"),
            models.Index(fields=["project", "created_by", "-created_at"], name="run_project_creator_created"),
            models.Index(fields=["project", "name"], name="run_project_name"),
        ]
        constraints = [
            # One retry per failure, whichever supervisor decides it, however often it restarts.
            models.UniqueConstraint(
                fields=["retry_of"], condition=models.Q(retry_of__isnull=False), name="one_retry_per_run"
            ),
        ]

    def __str__(self) -> str:
        return self.name or str(self.id)

    def clean(self) -> None:
        """The rules the launch API and the console check, for a run an operator edits in the admin
        (a queued one must still be able to start; staff are under no priority ceiling)."""
        errors: dict[str, list[ValidationError]] = {}
        for field, validate in (
            ("priority", validate_priority),
            ("resources", validate_resources),
            ("dataset", clean_training_path),
            ("training_yaml_name", clean_training_path),
            ("hyperparameters", validate_hyperparameters),
        ):
            try:
                validate(getattr(self, field))
            except ValidationError as error:
                errors[field] = error.error_list
        if "resources" not in errors and self.project_id and self.status == RunStatus.QUEUED:
            try:
                check_gpu_request(project=self.project, executor=self.executor, resources=self.resources)
            except InvalidInput as refusal:
                errors["resources"] = [ValidationError(refusal.detail, code="unsatisfiable")]
        if "hyperparameters" not in errors and self.project_id and self.status == RunStatus.QUEUED:
            schema = schema_for(self.project.trainer_in_effect)
            origin = dict.fromkeys(self.hyperparameters, "hyperparameters")
            unfit = config_problems(self.hyperparameters, schema=schema, origin=origin) if schema else []
            if unfit:
                errors["hyperparameters"] = [ValidationError(problem.sentence, code="unfit") for problem in unfit]
        if errors:
            raise ValidationError(errors)

    @property
    def kill_deadline(self) -> datetime | None:
        """For a cancel asked for without waiting: about when SIGKILL comes, if SIGTERM has not done it by then."""
        if self.cancel_requested_at is None or self.status != RunStatus.RUNNING:
            return None
        return self.cancel_requested_at + timedelta(seconds=settings.CANCEL_GRACE_SECONDS)

    @property
    def duration_seconds(self) -> float | None:
        """How long it ran: from its start to its end, or to now while it runs; None before it started."""
        if self.started_at is None:
            return None
        end = self.completed_at or self.cancelled_at or (timezone.now() if self.is_active else self.updated_at)
        return max((end - self.started_at).total_seconds(), 0.0)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def preemption_pending(self) -> bool:
        """Marked for preemption and not yet stopped (see PREEMPTION_PENDING)."""
        return self.preempted_at is not None and (self.started_at is None or self.preempted_at >= self.started_at)

    @property
    def is_stalled(self) -> bool:
        return self.status == RunStatus.RUNNING and self.stalled_since is not None

    @property
    def log_path(self) -> Path:
        return Path(self.run_dir) / "train.log"

    @property
    def exit_code_path(self) -> Path:
        return Path(self.run_dir) / "exit_code"

    @property
    def config_path(self) -> Path:
        return Path(self.run_dir) / "config.yaml"


class LogLevel(models.TextChoices):
    DEBUG = "DEBUG", _("Debug")
    INFO = "INFO", _("Info")
    WARNING = "WARNING", _("Warning")
    ERROR = "ERROR", _("Error")


class LogLine(models.Model):
    """One line a run's process wrote, in the order it wrote them (`seq`, from 1)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="log_lines", verbose_name=_("run"))
    seq = models.PositiveBigIntegerField(verbose_name=_("seq"))
    timestamp = models.DateTimeField(verbose_name=_("timestamp"))
    level = models.CharField(max_length=8, choices=LogLevel.choices, default=LogLevel.INFO, verbose_name=_("level"))
    message = models.TextField(verbose_name=_("message"))

    class Meta:
        verbose_name = _("log line")
        verbose_name_plural = _("log lines")
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="unique_log_seq")]
        # Time filters find their first and last seq here, in index order (see runs.logs).
        indexes = [models.Index(fields=["run", "timestamp", "seq"], name="log_run_time_seq")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.level} {self.message[:80]}"


class MetricPoint(models.Model):
    """One value of one metric at one step; the last write for a step wins."""

    # No index of its own: unique_metric_step's (run, name, step) serves every lookup by run, and one index
    # fewer is that much less work for each of the many points a trainer writes.
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="metric_points", db_index=False, verbose_name=_("run")
    )
    name = models.CharField(max_length=128, verbose_name=_("name"))
    step = models.BigIntegerField(verbose_name=_("step"))
    value = models.FloatField(verbose_name=_("value"))
    timestamp = models.DateTimeField(default=timezone.now, verbose_name=_("timestamp"))

    class Meta:
        verbose_name = _("metric point")
        verbose_name_plural = _("metric points")
        ordering = ["run", "name", "step"]
        constraints = [models.UniqueConstraint(fields=["run", "name", "step"], name="unique_metric_step")]

    def __str__(self) -> str:
        return f"{self.name}@{self.step}={self.value}"


class ArtifactType(models.TextChoices):
    CHECKPOINT = "checkpoint", _("Checkpoint")
    EVENT = "event", _("TensorBoard events")
    EVALUATION = "evaluation", _("Evaluation")
    CONFIG = "config", _("Config")
    ADAPTER = "adapter", _("Adapter")
    MODEL = "model", _("Model")
    LOG = "log", _("Log")


MAX_LISTED_FILES = 2000  # files a folder's listing shows; a checkpoint holds a few dozen


@dataclass(frozen=True)
class ArtifactFile:
    """A file inside an artifact's folder: its path relative to the folder, and its size."""

    relative: str
    size_bytes: int


class Artifact(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="artifacts", verbose_name=_("run"))
    name = models.CharField(max_length=255, verbose_name=_("name"))
    type = models.CharField(max_length=16, choices=ArtifactType.choices, verbose_name=_("type"))
    path = models.CharField(
        max_length=1024, help_text=_("Absolute path on the host that ran it."), verbose_name=_("path")
    )
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True, verbose_name=_("size bytes"))
    step = models.BigIntegerField(
        null=True, blank=True, help_text=_("Training step, for checkpoints."), verbose_name=_("step")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("artifact")
        verbose_name_plural = _("artifacts")
        ordering = ["created_at", "name"]
        constraints = [models.UniqueConstraint(fields=["run", "path"], name="unique_artifact_path")]

    def __str__(self) -> str:
        return self.name

    @cached_property
    def tag_list(self) -> list[ArtifactTag]:
        """Its tags, oldest first (from a prefetch_related("tags") when there was one)."""
        return list(self.tags.all())

    @cached_property
    def on_disk(self) -> str:
        """ "file" or "folder" where this host can read it inside its run's folder, else ""."""
        try:
            path = self.local_path()
        except NotFound:
            return ""
        return "folder" if path.is_dir() else "file" if path.is_file() else ""

    def local_path(self, relative: str = "") -> Path:
        """Its file or folder, or (`relative`) a file inside its folder, symlinks followed, where it lies
        inside its run's folder on this host; NotFound otherwise, so that no path of a run's record, nor
        one a person types, ever reads anything else."""
        if not self.run.run_dir or Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise NotFound(format_lazy(_("{path} is not among the run's files."), path=f"{self.name}/{relative}"))
        root = Path(self.run.run_dir).resolve()
        base = Path(self.path).resolve()
        target = (base / relative).resolve() if relative else base
        if not (target.is_relative_to(root) and target.is_relative_to(base) and target.exists()):
            raise NotFound(format_lazy(_("{path} is not among the run's files."), path=f"{self.name}/{relative}"))
        return target

    def files(self) -> list[ArtifactFile]:
        """The files inside its folder (none for a file), by path, at most MAX_LISTED_FILES."""
        folder = self.local_path()
        listed: list[ArtifactFile] = []
        for path in sorted(folder.rglob("*")):
            if len(listed) >= MAX_LISTED_FILES:
                break
            if path.is_file() and path.resolve().is_relative_to(folder):
                listed.append(ArtifactFile(str(path.relative_to(folder)), path.stat().st_size))
        return listed


class ArtifactTagValue(models.TextChoices):
    CANDIDATE = "candidate", _("Candidate")  # 候选
    RELEASE = "release", _("Release")  # 发布
    ARCHIVED = "archived", _("Archived")  # 归档


class ArtifactTag(models.Model):
    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="tags", verbose_name=_("artifact"))
    value = models.CharField(max_length=16, choices=ArtifactTagValue.choices, verbose_name=_("value"))
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    applied_at = models.DateTimeField(auto_now_add=True, verbose_name=_("applied at"))
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("applied by"),
    )

    class Meta:
        verbose_name = _("artifact tag")
        verbose_name_plural = _("artifact tags")
        ordering = ["applied_at"]

    def __str__(self) -> str:
        return self.value


ARTIFACT_FIELDS = [field.attname for field in Artifact._meta.concrete_fields]
TAG_FIELDS = [field.attname for field in ArtifactTag._meta.concrete_fields]
ARTIFACTS_WITH_TAGS: Prepared[Artifact] = Prepared(
    lambda run: (
        Artifact.objects.filter(run_id=run)
        .order_by(*(Artifact._meta.ordering or ()), *(f"tags__{name}" for name in ArtifactTag._meta.ordering or ()))
        .values(*ARTIFACT_FIELDS, *(f"tags__{name}" for name in TAG_FIELDS))
    )
)


def artifacts_with_tags(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run's ARTIFACTS_WITH_TAGS rows as its artifacts: rows of Artifact's fields plus `tag_list`
    (rows of ArtifactTag's fields), in their models' order. One LEFT JOIN compiled once costs a
    fraction of prefetch_related on the run detail, the API's busiest read (bench/p4)."""
    artifacts: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:
        artifact = artifacts.get(row["id"])
        if artifact is None:
            artifact = artifacts[row["id"]] = {name: row[name] for name in ARTIFACT_FIELDS} | {"tag_list": []}
        if row["tags__id"] is not None:
            artifact["tag_list"].append({name: row[f"tags__{name}"] for name in TAG_FIELDS})
    return list(artifacts.values())
