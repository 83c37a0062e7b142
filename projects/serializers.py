"""Shapes of the Projects section of the REST contract."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from projects.models import ExecutorKind, Project, ProjectStatus, ProjectVersion
from projects.training_files import UnsafePath, check_relative_path

User = get_user_model()


class ProjectVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProjectVersion
        fields = ["version", "changed_at", "changed_by", "changes"]
        read_only_fields = fields


class ProjectSerializer(serializers.ModelSerializer):
    """A project as listed: everything but its runs and version history."""

    runs_started = serializers.SerializerMethodField()
    members = serializers.SerializerMethodField()

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
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField())
    def get_runs_started(self, project: Project) -> int:
        annotated = getattr(project, "runs_started", None)
        return annotated if annotated is not None else project.runs.filter(started_at__isnull=False).count()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_members(self, project: Project) -> list[str]:
        return sorted(user.get_username() for user in project.members.all())


def validate_training_path(value: str) -> str:
    if value == "":
        return value
    try:
        return check_relative_path(value)
    except UnsafePath as exc:
        raise serializers.ValidationError(f"{value!r} {exc}") from None


class ProjectWriteSerializer(serializers.ModelSerializer):
    """The body of `POST /projects` and `PATCH /projects/{ref}`; only `name` is required to create."""

    name = serializers.CharField(max_length=200)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=100)
    default_hyperparameters = serializers.DictField(required=False)
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
        required=False, help_text="Staff only: container, image, partition, command template... per executor."
    )
    max_concurrent_gpus = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, help_text="Staff only: GPUs the project's runs may hold at once."
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
        ]

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("must not be blank")
        if "/" in value or any(ord(char) < 32 for char in value):
            raise serializers.ValidationError("must not contain '/' or control characters")
        try:
            uuid.UUID(value)
        except ValueError:
            return value
        raise serializers.ValidationError("must not be a UUID (projects are referenced by id or name)")

    def validate_dataset_name(self, value: str) -> str:
        return validate_training_path(value)

    def validate_training_yaml_name(self, value: str) -> str:
        return validate_training_path(value)

    def validate_members(self, usernames: list[str]) -> list[Any]:
        users = list(User.objects.filter(username__in=usernames))
        unknown = sorted(set(usernames) - {user.get_username() for user in users})
        if unknown:
            raise serializers.ValidationError(f"unknown users: {', '.join(unknown)}")
        return users
