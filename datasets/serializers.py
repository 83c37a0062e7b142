"""Shapes of the datasets API (names prefixed Dataset…/Upload…/TrainConfig…: unique in the schema)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from datasets.models import Dataset, DatasetFile, FileStatus, TaskType, TokenLengths, TrainConfig
from datasets.token_lengths import histogram, summary
from projects.serializers import share_with_field, shared_with_field


class DatasetCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    metadata = serializers.DictField(required=False, default=dict)
    project = share_with_field()


class DatasetCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()


class DatasetFileSerializer(serializers.ModelSerializer):
    """One file of a dataset, as DatasetRecord lists it (the API's original fields first)."""

    upload_id = serializers.UUIDField(source="id")
    path = serializers.CharField(
        source="relative_path", help_text="Relative to HOST_TRAINING_DIR: name it in a project."
    )
    validation_progress = serializers.FloatField(help_text="0..1 while validating.")

    class Meta:
        model = DatasetFile
        fields = [
            "upload_id",
            "name",
            "stored_name",
            "bytes",
            "uploaded_at",
            "path",
            "sha256",
            "status",
            "records",
            "error_count",
            "validation_progress",
            "expected_bytes",
            "received_bytes",
        ]


class DatasetFileErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="1-based; 0 for the file as a whole.")
    field = serializers.CharField(help_text="e.g. messages[1].role; empty for the whole line.")
    reason = serializers.CharField()


class DatasetFileReportSerializer(DatasetFileSerializer):
    """A file with its validation report: the first errors and per-field statistics."""

    dataset_id = serializers.UUIDField()
    # DRF's metaclass moves declared fields off the class: Serializer.errors stays as it is.
    errors = DatasetFileErrorSerializer(many=True)  # type: ignore[assignment]
    stats = serializers.DictField()

    class Meta(DatasetFileSerializer.Meta):
        fields = [
            *DatasetFileSerializer.Meta.fields,
            "dataset_id",
            "validated_bytes",
            "validated_at",
            "errors",
            "stats",
        ]


class DatasetTokenLengthsRequestSerializer(serializers.Serializer):
    model = serializers.CharField(
        max_length=1024,
        help_text="The model folder whose tokenizer.json counts the tokens: relative to HOST_TRAINING_DIR "
        "(as a config's model_name_or_path), else to MODELS_DIR.",
    )


class DatasetTokenLengthsFieldSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="prompt, response, chosen, rejected, text, or total (the whole record).")
    count = serializers.IntegerField()
    min = serializers.IntegerField(allow_null=True)
    max = serializers.IntegerField(allow_null=True)
    mean = serializers.FloatField(allow_null=True)
    p50 = serializers.IntegerField(allow_null=True)
    p90 = serializers.IntegerField(allow_null=True)
    p99 = serializers.IntegerField(allow_null=True)
    histogram = serializers.ListField(
        child=serializers.DictField(),
        help_text="Records per power-of-two range of token counts: [{low, high, count}], both ends included.",
    )


class DatasetTokenLengthsSerializer(serializers.ModelSerializer):
    """A file's token lengths by one tokenizer: progress while a worker measures, then per-field figures."""

    upload_id = serializers.UUIDField(source="dataset_file_id")
    progress = serializers.FloatField(help_text="0..1 while measuring.")
    by_field = serializers.SerializerMethodField()

    class Meta:
        model = TokenLengths
        fields = [
            "id",
            "upload_id",
            "model",
            "tokenizer_sha256",
            "status",
            "progress",
            "measured_bytes",
            "records",
            "error",
            "created_at",
            "finished_at",
            "by_field",
        ]

    @extend_schema_field(DatasetTokenLengthsFieldSerializer(many=True))
    def get_by_field(self, lengths: TokenLengths) -> list[dict[str, Any]]:
        return [
            {
                "field": name,
                **summary(counts),
                "histogram": [vars(bucket) for bucket in histogram(counts)],
            }
            for name, counts in lengths.lengths.items()
        ]


class TrainConfigSummarySerializer(serializers.ModelSerializer):
    """The current training config as GET /v1/train-config summarises it."""

    class Meta:
        model = TrainConfig
        fields = ["filename", "uploaded_at", "size"]


class TrainConfigSerializer(serializers.ModelSerializer):
    path = serializers.CharField(
        source="relative_path", help_text="Relative to HOST_TRAINING_DIR: a training_yaml_name."
    )
    dataset_id = serializers.UUIDField(allow_null=True)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    project_id = shared_with_field()
    is_current = serializers.BooleanField(
        read_only=True, help_text="Its owner's current config (each user has one: /v1/train-config)."
    )

    class Meta:
        model = TrainConfig
        fields = [
            "id",
            "filename",
            "stored_name",
            "path",
            "size",
            "sha256",
            "uploaded_at",
            "task_type",
            "dataset_reference",
            "dataset_id",
            "is_current",
            "warnings",
            "created_by",
            "project_id",
        ]


class TrainConfigDetailSerializer(TrainConfigSerializer):
    class Meta(TrainConfigSerializer.Meta):
        fields = [*TrainConfigSerializer.Meta.fields, "content"]


class TrainConfigUploadedSerializer(serializers.Serializer):
    train_config = serializers.SerializerMethodField()
    id = serializers.UUIDField()
    path = serializers.CharField(source="relative_path")
    task_type = serializers.CharField()
    warnings = serializers.ListField(child=serializers.CharField())

    @extend_schema_field(TrainConfigSummarySerializer)
    def get_train_config(self, config: TrainConfig) -> dict[str, Any]:
        return TrainConfigSummarySerializer(config).data


class TrainConfigUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=".yaml or .yml, at most MAX_YAML_BYTES")
    task_type = serializers.ChoiceField(
        choices=TaskType.choices, required=False, help_text="For a YAML that neither declares nor implies one."
    )
    project = share_with_field()


class TrainConfigDeletedSerializer(serializers.Serializer):
    status = serializers.CharField(default="train_config_deleted")


class DatasetRecordSerializer(serializers.ModelSerializer):
    status = serializers.CharField(help_text="empty, uploading, validating, ready or invalid (worst of its files)")
    files = DatasetFileSerializer(many=True)
    train_config = serializers.SerializerMethodField()
    upload_progress = serializers.SerializerMethodField()
    parent_id = serializers.UUIDField(allow_null=True)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    project_id = shared_with_field()

    class Meta:
        model = Dataset
        fields = [
            "id",
            "name",
            "type",
            "description",
            "task_type",
            "metadata",
            "created_at",
            "status",
            "files",
            "train_config",
            "upload_progress",
            "parent_id",
            "created_by",
            "project_id",
            "personal_data",
        ]

    @extend_schema_field(TrainConfigSerializer(allow_null=True))
    def get_train_config(self, dataset: Dataset) -> dict[str, Any] | None:
        """The newest training config whose `dataset` names one of this dataset's files (the
        view prefetches only the configs the caller sees)."""
        configs = list(dataset.train_configs.all())
        return TrainConfigSerializer(configs[0]).data if configs else None

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "files_count": {"type": "integer", "description": "files whose bytes have all arrived"},
                "bytes": {"type": "integer"},
                "uploading": {"type": "integer", "description": "resumable uploads still open"},
                "validating": {"type": "integer"},
            },
        }
    )
    def get_upload_progress(self, dataset: Dataset) -> dict[str, int]:
        files = list(dataset.files.all())
        stored = [file for file in files if file.status != FileStatus.UPLOADING]
        return {
            "files_count": len(stored),
            "bytes": sum(file.bytes for file in stored),
            "uploading": len(files) - len(stored),
            "validating": sum(1 for file in files if file.status == FileStatus.VALIDATING),
        }


class DatasetUploadedSerializer(serializers.ModelSerializer):
    """The answer to a file upload: the stored file, where it is and how its validation went."""

    upload_id = serializers.UUIDField(source="id")
    dataset_id = serializers.UUIDField()
    filename = serializers.CharField(source="name")
    path = serializers.CharField(source="relative_path")

    class Meta:
        model = DatasetFile
        fields = ["upload_id", "dataset_id", "bytes", "filename", "stored_name", "path", "sha256", "status", "records"]


class DatasetFileUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The data file; at most MAX_SMALL_FILE_BYTES (larger: resumable upload)")


class DatasetPreviewItemSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    record = serializers.JSONField(allow_null=True)
    text = serializers.CharField(required=False, help_text="A line that is no record, as written.")
    error = serializers.CharField(required=False)


class DatasetPreviewSerializer(serializers.Serializer):
    upload_id = serializers.UUIDField()
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    items = DatasetPreviewItemSerializer(many=True)
    next_offset = serializers.IntegerField(allow_null=True)


class UploadSessionCreateSerializer(serializers.Serializer):
    filename = serializers.CharField(max_length=1024)
    total_bytes = serializers.IntegerField(min_value=1)
    sha256 = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True, default="", help_text="Checked when finishing."
    )


class UploadSessionSerializer(serializers.ModelSerializer):
    upload_id = serializers.UUIDField(source="id")
    dataset_id = serializers.UUIDField()
    filename = serializers.CharField(source="name")
    total_bytes = serializers.IntegerField(source="expected_bytes")
    offset = serializers.IntegerField(source="received_bytes", help_text="Send the next chunk from here.")
    path = serializers.CharField(source="relative_path", help_text="Where the file will be once finished.")
    max_chunk_bytes = serializers.SerializerMethodField(help_text="Send chunks no larger than this.")

    class Meta:
        model = DatasetFile
        fields = [
            "upload_id",
            "dataset_id",
            "filename",
            "status",
            "total_bytes",
            "offset",
            "expected_sha256",
            "path",
            "max_chunk_bytes",
        ]

    def get_max_chunk_bytes(self, dataset_file: DatasetFile) -> int:
        # Advice, not a limit: chunks stream to disk whatever their size. One this big
        # keeps what a broken connection costs small and the request count low.
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class UploadAbortedSerializer(serializers.Serializer):
    upload_id = serializers.UUIDField()
    status = serializers.CharField(default="aborted")
