"""Shapes of the Runs section of the REST contract (plus metrics and log filters)."""

from __future__ import annotations

import uuid
from datetime import UTC
from functools import cached_property
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Subquery
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from llmplatform.api import MAX_OFFSET, PageQuery
from llmplatform.prepared import Prepared, Read, read_together
from llmplatform.readonly import DirectReadMixin, represent_each
from projects.models import validate_hyperparameters
from projects.serializers import ProjectSerializer, ProjectVersionSerializer
from projects.training_files import clean_training_path
from runs.logs import LogQuery
from runs.metric_series import MAX_POINTS_LIMIT, MAX_STEP, MIN_POINTS, MIN_STEP, SeriesQuery
from runs.models import (
    ARTIFACTS_WITH_TAGS,
    MAX_GPU_COUNT,
    MAX_PRIORITY,
    MAX_RUN_NOTES_CHARS,
    MAX_RUN_TAG_CHARS,
    MAX_RUN_TAGS,
    MIN_PRIORITY,
    Artifact,
    ArtifactTag,
    ArtifactType,
    LogLevel,
    LogLine,
    Run,
    RunStatus,
    artifacts_with_tags,
)
from runs.scheduling import queue_position

RECENT_LOG_LINES = 20  # in RunDetail; the whole log is paged at /logs


class RunLogLineSerializer(DirectReadMixin, serializers.ModelSerializer):
    class Meta:
        model = LogLine
        fields = ["seq", "timestamp", "level", "message"]
        read_only_fields = fields


class RunArtifactTagSerializer(DirectReadMixin, serializers.ModelSerializer):
    class Meta:
        model = ArtifactTag
        fields = ["value", "notes", "applied_at"]
        read_only_fields = fields


class RunArtifactSerializer(DirectReadMixin, serializers.ModelSerializer):
    tags = RunArtifactTagSerializer(many=True, read_only=True, source="tag_list")
    run_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Artifact
        fields = ["id", "run_id", "name", "type", "path", "created_at", "size_bytes", "step", "tags"]
        read_only_fields = fields


class RunArtifactListSerializer(serializers.Serializer):
    items = RunArtifactSerializer(many=True)


class RunSerializer(DirectReadMixin, serializers.ModelSerializer):
    """A run as listed: RunDetail without its artifacts and recent log lines."""

    project_id = serializers.UUIDField(read_only=True)
    resume_source_artifact_id = serializers.UUIDField(read_only=True, allow_null=True)
    resumed_from = serializers.SerializerMethodField()
    retry_of_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="The failed (or stalled) run this one retries."
    )
    attempt = serializers.IntegerField(read_only=True, help_text="1, or 2 for the first retry of a run, and so on.")
    retry_reason = serializers.CharField(read_only=True, help_text="Why it was, or was not, retried.")
    stalled = serializers.SerializerMethodField()
    stalled_since = serializers.DateTimeField(read_only=True, allow_null=True)
    stall_reason = serializers.CharField(read_only=True)
    preempted_by_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="The higher-priority run it last made way for."
    )
    preempted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    warnings = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="What its launch warned of without refusing it: {code, message, ...figures} (records longer "
        "than cutoff_len, token lengths not checked).",
    )
    created_by = serializers.SerializerMethodField()
    duration_seconds = serializers.FloatField(
        read_only=True, allow_null=True, help_text="From its start to its end, or to now while it runs."
    )
    notes = serializers.CharField(read_only=True, help_text="What its team noted about it.")
    tags = serializers.ListField(child=serializers.CharField(), read_only=True, help_text="Labels its team gave it.")

    class Meta:
        model = Run
        fields = [
            "id",
            "project_id",
            "name",
            "status",
            "created_at",
            "updated_at",
            "started_at",
            "completed_at",
            "cancelled_at",
            "cancel_requested_at",
            "progress",
            "eta_seconds",
            "current_step",
            "total_steps",
            "metrics",
            "gpu_utilization",
            "start_command",
            "model",
            "dataset",
            "training_yaml_name",
            "hyperparameters",
            "resources",
            "priority",
            "executor",
            "host",
            "gpu_indices",
            "queue_reason",
            "exit_code",
            "output_dir",
            "resume_source_artifact_id",
            "resumed_from",
            "retry_of_id",
            "attempt",
            "retry_reason",
            "stalled",
            "stalled_since",
            "stall_reason",
            "preempted_by_id",
            "preempted_at",
            "warnings",
            "created_by",
            "duration_seconds",
            "notes",
            "tags",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_created_by(self, run: Run) -> str | None:
        """The username of who launched it; null for the platform (a retry) or a deleted user."""
        return run.created_by.get_username() if run.created_by_id and run.created_by else None

    @extend_schema_field(serializers.BooleanField())
    def get_stalled(self, run: Run) -> bool:
        """A running run that has written no step for its project's stall_after while its GPUs or CPUs idle."""
        return run.is_stalled

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_resumed_from(self, run: Run) -> str | None:
        """The checkpoint artifact it continues from (the same as resume_source_artifact_id, under a second name)."""
        return str(run.resume_source_artifact_id) if run.resume_source_artifact_id else None


class RunDetailSerializer(RunSerializer):
    artifacts = serializers.SerializerMethodField()
    latest_checkpoint = serializers.SerializerMethodField()
    logs = serializers.SerializerMethodField()
    queue_position = serializers.SerializerMethodField()
    retried_by_id = serializers.SerializerMethodField()

    class Meta(RunSerializer.Meta):
        fields = [
            *RunSerializer.Meta.fields,
            "artifacts",
            "latest_checkpoint",
            "logs",
            "queue_position",
            "retried_by_id",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_retried_by_id(self, run: Run) -> str | None:
        """The run that retries this one, if the platform retried it."""
        if run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
            return None  # only a failed or stalled run is retried
        retry = run.retries.values_list("pk", flat=True).first()
        return str(retry) if retry else None

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_queue_position(self, run: Run) -> int | None:
        """Where a queued run stands in dispatch order (1: next to start); null once it has left the queue."""
        return queue_position(run)

    @extend_schema_field(RunArtifactSerializer(many=True))
    def get_artifacts(self, run: Run) -> list[dict]:
        return self.reads(run).children["artifacts"]

    @extend_schema_field(RunArtifactSerializer(allow_null=True))
    def get_latest_checkpoint(self, run: Run) -> dict | None:
        return self.reads(run).children["latest_checkpoint"]

    @extend_schema_field(RunLogLineSerializer(many=True))
    def get_logs(self, run: Run) -> list[dict]:
        """The most recent lines, oldest first (the whole log is paged at /logs)."""
        return self.reads(run).children["logs"]

    def to_representation(self, instance: Run) -> dict[str, Any]:
        self.reads(instance).attach_creator(instance)
        return super().to_representation(instance)

    def reads(self, run: Run) -> RunDetailReads:
        """The reads of the run being rendered: the view's, sent ahead (context "reads"), else its own."""
        reads = self._reads
        if reads is None or reads.run_pk != run.pk:
            given = self.context.get("reads")
            if not isinstance(given, RunDetailReads) or given.run_pk != run.pk:
                given = RunDetailReads(run.pk)
            reads = self._reads = given
        return reads

    _reads: RunDetailReads | None = None


RECENT_LOG_LINES_OF: Prepared[LogLine] = Prepared(
    lambda run: (
        LogLine.objects.filter(run_id=run).order_by("-seq").values(*RunLogLineSerializer.Meta.fields)[:RECENT_LOG_LINES]
    )
)
# By the run's id alone, so that it can be read before the run is found.
CREATOR_OF: Prepared[User] = Prepared(
    lambda run: User.objects.filter(pk=Subquery(Run.objects.filter(pk=run).values("created_by_id")[:1]))
)


class RunDetailReads:
    """What a run detail shows besides the run's row: its creator, its artifacts with their tags and
    its most recent log lines. Every read is keyed by the run's id alone, so a view can send them in
    the round trip that looks the run up (llmplatform.prepared.read_together), and shows them only
    once that found the run where the caller may see it."""

    def __init__(self, run_pk: uuid.UUID) -> None:
        self.run_pk = run_pk
        self.creator = CREATOR_OF.read_objects(run_pk)
        self.artifacts = ARTIFACTS_WITH_TAGS.read_rows(run_pk)
        self.newest_lines = RECENT_LOG_LINES_OF.read_rows(run_pk)

    @property
    def reads(self) -> tuple[Read[Any], ...]:
        return (self.creator, self.artifacts, self.newest_lines)

    def attach_creator(self, run: Run) -> None:
        """Gives `run` its creator from the creator read, unless it has it already (select_related)."""
        if run.created_by_id and not Run.created_by.is_cached(run):
            creators = self.creator.answer()
            if creators and creators[0].pk == run.created_by_id:  # else the run's own lookup, as before
                run.created_by = creators[0]

    @cached_property
    def children(self) -> dict[str, Any]:
        """The detail's artifacts (with tags), latest checkpoint and recent log lines."""
        read_together(self.artifacts, self.newest_lines)
        artifacts = artifacts_with_tags(self.artifacts.answer())
        checkpoints = [artifact for artifact in artifacts if artifact["type"] == ArtifactType.CHECKPOINT]
        latest = max(checkpoints, key=lambda artifact: (artifact["step"] or -1, artifact["created_at"]), default=None)
        newest_first = self.newest_lines.answer()
        artifact = RunArtifactSerializer()
        return {
            "artifacts": represent_each(artifact, artifacts),
            "latest_checkpoint": artifact.to_representation(latest) if latest else None,
            "logs": represent_each(RunLogLineSerializer(), newest_first[::-1]),
        }


class RunResourcesSerializer(serializers.Serializer):
    gpu_type = serializers.CharField(required=False, allow_blank=True, max_length=64)
    gpu_count = serializers.IntegerField(required=False, min_value=0, max_value=MAX_GPU_COUNT)

    def to_internal_value(self, data):
        known = super().to_internal_value(data)
        # Unknown keys (memory, cpus...) are kept as the caller gave them.
        return {**{k: v for k, v in data.items() if k not in known}, **known} if isinstance(data, dict) else known


class RunCreateSerializer(serializers.Serializer):
    """The optional body of launching or resuming a run; absent fields fall back to the project's."""

    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    model = serializers.CharField(required=False, allow_blank=True, max_length=512)
    dataset = serializers.CharField(required=False, allow_blank=True, max_length=1024)
    training_yaml_name = serializers.CharField(required=False, allow_blank=True, max_length=1024)
    hyperparameters = serializers.DictField(required=False, validators=[validate_hyperparameters])
    resources = RunResourcesSerializer(required=False)
    priority = serializers.IntegerField(required=False, min_value=MIN_PRIORITY, max_value=MAX_PRIORITY)

    def validate_dataset(self, value: str) -> str:
        return clean_training_path(value)

    def validate_training_yaml_name(self, value: str) -> str:
        return clean_training_path(value)


class RunNotesSerializer(serializers.Serializer):
    """The body of changing a run's notes and tags; an absent field stays as it is."""

    notes = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=MAX_RUN_NOTES_CHARS
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=MAX_RUN_TAG_CHARS, allow_blank=True),
        required=False,
        max_length=MAX_RUN_TAGS,
        help_text="The whole list, replacing the run's tags.",
    )


class RunTagRequestSerializer(serializers.Serializer):
    tag = serializers.CharField(max_length=32, help_text="candidate, release or archived (or 候选, 发布, 归档).")
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)


class RunLogQuerySerializer(PageQuery):
    start_time = serializers.DateTimeField(required=False, help_text="Inclusive, ISO 8601.")
    end_time = serializers.DateTimeField(required=False, help_text="Exclusive, ISO 8601.")
    level = serializers.ChoiceField(choices=LogLevel.values, required=False, help_text="This level and above.")
    q = serializers.CharField(required=False, max_length=500, help_text="Text the message contains.")
    after_seq = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_OFFSET, help_text="Only lines after this seq (tail)."
    )

    def validate(self, data: dict) -> dict:
        start, end = data.get("start_time"), data.get("end_time")
        if start and end and start > end:
            raise serializers.ValidationError({"start_time": "must not be after end_time"})
        return data

    def to_query(self) -> LogQuery:
        data = self.validated_data
        as_utc = {key: data[key].astimezone(UTC) for key in ("start_time", "end_time") if key in data}
        return LogQuery(
            page=data["page"],
            page_size=data["page_size"],
            start_time=as_utc.get("start_time"),
            end_time=as_utc.get("end_time"),
            level=data.get("level"),
            text=data.get("q"),
            after_seq=data.get("after_seq"),
        )


class RunLogPageSerializer(serializers.Serializer):
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    total = serializers.IntegerField()
    items = RunLogLineSerializer(many=True)


class RunMetricsQuerySerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=128, help_text="Only this metric.")
    since_step = serializers.IntegerField(
        required=False, min_value=MIN_STEP, max_value=MAX_STEP, help_text="Only points with step ≥ this."
    )
    until_step = serializers.IntegerField(
        required=False, min_value=MIN_STEP, max_value=MAX_STEP, help_text="Only points with step ≤ this."
    )
    max_points = serializers.IntegerField(
        required=False,
        min_value=MIN_POINTS,
        max_value=MAX_POINTS_LIMIT,
        help_text=f"At most this many points per series ({MIN_POINTS}–{MAX_POINTS_LIMIT}), keeping each step "
        "bucket's first, lowest, highest and last point. Without it, every point as stored.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since_step"), attrs.get("until_step")
        if since is not None and until is not None and until < since:
            raise serializers.ValidationError({"until_step": "must not be below since_step"})
        return attrs

    def series_query(self) -> SeriesQuery:
        data = dict(self.validated_data)
        name = data.pop("name", None)
        return SeriesQuery(names=(name,) if name else (), **data)


class RunMetricPointSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    value = serializers.FloatField()
    timestamp = serializers.DateTimeField()


class RunMetricSeriesSerializer(serializers.Serializer):
    name = serializers.CharField()
    points = RunMetricPointSerializer(many=True)
    total_points = serializers.IntegerField(
        required=False, help_text="With max_points: how many points the range holds before downsampling."
    )
    downsampled = serializers.BooleanField(required=False, help_text="With max_points: whether points were left out.")


class RunMetricsSerializer(serializers.Serializer):
    run_id = serializers.UUIDField()
    series = RunMetricSeriesSerializer(many=True)


class ProjectRunSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Run
        fields = ["id", "name", "status", "progress", "started_at"]
        read_only_fields = fields


class ProjectDetailSerializer(ProjectSerializer):
    """ProjectDetail: a project with a summary of each of its runs and its version history."""

    runs = ProjectRunSummarySerializer(many=True, read_only=True)
    versions = ProjectVersionSerializer(many=True, read_only=True)

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "runs", "versions"]
        read_only_fields = fields
