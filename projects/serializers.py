"""Shapes of the Projects section of the REST contract."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from projects.models import (
    MAX_CONCURRENT_GPUS,
    MAX_PRIORITY,
    MAX_RETRIES,
    MIN_PRIORITY,
    ExecutorKind,
    OnStall,
    Project,
    ProjectStatus,
    ProjectVersion,
    TrainerKind,
    users_named,
    validate_executor_options,
    validate_hyperparameters,
    validate_project_name,
)
from projects.training_files import clean_training_path


class ProjectVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProjectVersion
        fields = ["version", "changed_at", "changed_by", "changes"]
        read_only_fields = fields


class ProjectSerializer(serializers.ModelSerializer):
    """A project as listed: everything but its runs and version history."""

    runs_started = serializers.SerializerMethodField()
    members = serializers.SerializerMethodField()
    trainer = serializers.CharField(
        source="trainer_in_effect",
        read_only=True,
        help_text=(
            "Which trainer its runs start, so a launch checks their config against its arguments: "
            "llamafactory-0.9.x, hf-trainer or unchecked (set, or derived from its command)."
        ),
    )

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "owner",
            "tags",
            "dataset_name",
            "training_yaml_name",
            "objective",
            "task_type",
            "base_model",
            "default_hyperparameters",
            "status",
            "created_at",
            "updated_at",
            "runs_started",
            "members",
            "executor",
            "executor_options",
            "max_concurrent_gpus",
            "max_priority",
            "trainer",
            "max_retries",
            "stall_after_seconds",
            "on_stall",
            "may_preempt",
            "max_truncated_share",
            "refuse_truncation",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField())
    def get_runs_started(self, project: Project) -> int:
        annotated = getattr(project, "runs_started", None)
        return annotated if annotated is not None else project.runs.filter(started_at__isnull=False).count()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_members(self, project: Project) -> list[str]:
        return sorted(user.get_username() for user in project.members.all())


class LeftOutWhenAbsent(serializers.BooleanField):
    """A flag a form body may leave out: absent stays absent, where DRF reads an absent checkbox as False."""

    default_empty_html = empty


class ProjectWriteSerializer(serializers.ModelSerializer):
    """The body of `POST /projects` and `PATCH /projects/{ref}`; only `name` is required to create."""

    name = serializers.CharField(max_length=200)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=100)
    default_hyperparameters = serializers.DictField(required=False, validators=[validate_hyperparameters])
    dataset_name = serializers.CharField(max_length=1024, required=False, allow_blank=True)
    training_yaml_name = serializers.CharField(max_length=1024, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=ProjectStatus.choices, required=False)
    members = serializers.ListField(
        child=serializers.CharField(max_length=150),
        required=False,
        max_length=500,
        help_text="Usernames who may launch, cancel and resume runs.",
    )
    executor = serializers.ChoiceField(
        choices=["", *ExecutorKind.values],
        required=False,
        help_text="Where runs execute; blank: the platform's default.",
    )
    executor_options = serializers.DictField(
        required=False,
        validators=[validate_executor_options],
        help_text="Staff only: container, image, partition, command template... per executor.",
    )
    max_concurrent_gpus = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=MAX_CONCURRENT_GPUS,
        help_text="Staff only: GPUs the project's runs may hold at once.",
    )
    max_priority = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=MIN_PRIORITY,
        max_value=MAX_PRIORITY,
        help_text="Staff only: the highest priority others may give its runs; null: the platform's default.",
    )
    max_retries = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_RETRIES,
        help_text="How often a failed run is resumed by itself from its latest complete checkpoint (0: never).",
    )
    stall_after_seconds = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="Seconds without a new step (GPUs or CPUs idle) after which a run counts as stalled; "
        "null: ten times its median step time, at least the platform's floor.",
    )
    on_stall = serializers.ChoiceField(
        choices=OnStall.choices, required=False, help_text="What to do with a stalled run: leave, cancel, or resume."
    )
    may_preempt = LeftOutWhenAbsent(
        required=False,
        help_text="Staff only: its queued runs may stop lower-priority runs that hold the GPUs they need.",
    )

    max_truncated_share = serializers.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        help_text="The share of a dataset's records (0 to 1) that may be longer than the config's cutoff_len, "
        "by the base model's tokenizer, before a launch warns (or is refused, with refuse_truncation).",
    )
    refuse_truncation = LeftOutWhenAbsent(
        required=False,
        help_text="Refuse a launch (400 naming the figures) rather than warn when more records than "
        "max_truncated_share are longer than cutoff_len.",
    )

    trainer = serializers.ChoiceField(
        choices=["", *TrainerKind.values],
        required=False,
        help_text=(
            "Which trainer its runs start: llamafactory-0.9.x, hf-trainer (a script around transformers.Trainer) "
            "or unchecked; blank: LLaMA-Factory for its commands, else unchecked."
        ),
    )

    class Meta:
        model = Project
        fields = [
            "name",
            "description",
            "owner",
            "tags",
            "dataset_name",
            "training_yaml_name",
            "objective",
            "task_type",
            "base_model",
            "default_hyperparameters",
            "status",
            "members",
            "executor",
            "executor_options",
            "max_concurrent_gpus",
            "max_priority",
            "trainer",
            "max_retries",
            "stall_after_seconds",
            "on_stall",
            "may_preempt",
            "max_truncated_share",
            "refuse_truncation",
        ]

    # The rules are the model's, so the console and the admin refuse the same input alike.
    def validate_name(self, value: str) -> str:
        validate_project_name(value)
        return value

    def validate_dataset_name(self, value: str) -> str:
        return clean_training_path(value)

    def validate_training_yaml_name(self, value: str) -> str:
        return clean_training_path(value)

    def validate_members(self, usernames: list[str]) -> list[Any]:
        return users_named(usernames)


# --- objects shared with a project (projects.sharing) ---------------------------------


def share_with_field() -> serializers.CharField:
    """The opt-in request field naming the project a new dataset, config or deployment is shared with."""
    return serializers.CharField(
        max_length=200,
        required=False,
        help_text=(
            "A project (its id or name) to share it with: the project's creator and members see it. "
            "Without one, only you and staff see it."
        ),
    )


def shared_with_field() -> serializers.UUIDField:
    """The response field `project_id`: which project an object is shared with."""
    return serializers.UUIDField(
        read_only=True,
        allow_null=True,
        help_text="The project it is shared with (its creator and members see it); null: its owner and staff only.",
    )
