"""Operators' view of datasets, files and configs: searchable, validation reports visible.

Staff see every row (projects.sharing) and may share a dataset or config with a project here.

Deleting goes through the services, so the files on disk go with the records (and the
services write the audit events, hence `log_deletions` keeps only Django's own log).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.admin import AuditedModelAdmin
from datasets import services
from datasets.models import Dataset, DatasetFile, TokenLengths, TrainConfig, ValidatedPiece

ModelT = TypeVar("ModelT", bound=Model)


class ServiceDeletingAdmin(AuditedModelAdmin, Generic[ModelT]):
    def remove(self, request: HttpRequest, obj: ModelT) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: ModelT) -> None:
        self.remove(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ModelT]) -> None:
        for obj in queryset:
            self.remove(request, obj)

    def log_deletions(self, request: HttpRequest, queryset: QuerySet):
        return admin.ModelAdmin.log_deletions(self, request, queryset)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # created by uploads, never by hand


class DatasetFileInline(admin.TabularInline):
    model = DatasetFile
    extra = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = ("name", "relative_path", "status", "bytes", "records", "error_count", "uploaded_at")


@admin.register(Dataset)
class DatasetAdmin(ServiceDeletingAdmin[Dataset]):
    list_display = ["name", "task_type", "type", "created_by", "project", "personal_data", "created_at"]
    list_filter = ["task_type", "personal_data"]
    search_fields = ["name", "description", "id"]
    raw_id_fields = ["parent", "created_by", "project"]
    inlines = [DatasetFileInline]

    def remove(self, request: HttpRequest, obj: Dataset) -> None:
        services.delete_dataset(dataset=obj, actor=request.user)


class ValidatedPieceInline(admin.TabularInline):
    """What was checked of an upload while it arrived (the pieces go once it is validated)."""

    model = ValidatedPiece
    extra = 0
    can_delete = False
    fields = readonly_fields = ("start", "end", "records", "error_count")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # made by validation, never by hand

    @admin.display(description=_("records"))
    def records(self, piece: ValidatedPiece) -> int:
        return piece.report["records"]

    @admin.display(description=_("error count"))
    def error_count(self, piece: ValidatedPiece) -> int:
        return piece.report["error_count"]


class TokenLengthsInline(admin.TabularInline):
    """The file's token lengths by each tokenizer they were measured with (the counts are in the API)."""

    model = TokenLengths
    extra = 0
    can_delete = False
    fields = readonly_fields = ("model", "tokenizer_sha256", "status", "measured_bytes", "records", "finished_at")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # measured by the platform, never by hand


@admin.register(DatasetFile)
class DatasetFileAdmin(ServiceDeletingAdmin[DatasetFile]):
    list_display = ["stored_name", "dataset", "status", "bytes", "records", "error_count", "uploaded_at"]
    list_filter = ["status", "dataset__task_type"]
    search_fields = ["name", "stored_name", "sha256", "id", "dataset__name"]
    list_select_related = ["dataset"]
    # The running SHA-256's raw state means nothing to a reader; hashed_bytes says how far it got.
    readonly_fields = [field.name for field in DatasetFile._meta.fields if field.name != "sha256_state"]
    inlines = [ValidatedPieceInline, TokenLengthsInline]

    def remove(self, request: HttpRequest, obj: DatasetFile) -> None:
        services.remove_dataset_file(dataset_file=obj, actor=request.user)


@admin.register(TrainConfig)
class TrainConfigAdmin(ServiceDeletingAdmin[TrainConfig]):
    list_display = ["filename", "task_type", "is_current", "size", "created_by", "project", "uploaded_at"]
    list_filter = ["task_type", "is_current"]
    search_fields = ["filename", "stored_name", "dataset_reference", "id"]
    raw_id_fields = ["project"]
    # Only whom it is shared with may change; the YAML is what was validated.
    readonly_fields = [field.name for field in TrainConfig._meta.fields if field.name != "project"]

    def remove(self, request: HttpRequest, obj: TrainConfig) -> None:
        services.delete_train_config(config=obj, actor=request.user)
