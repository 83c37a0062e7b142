"""Datasets, uploads and training configs over REST (paths from the contract, exactly).

Views stay thin: they check permissions, read the request, and call `services`.
Who sees and changes what is `projects.sharing`'s rule: a dataset, file or config
hidden from the caller is a 404, one they see but may not change a 403.
Uploads never go through `request.data` with Django's default handlers: the
multipart parser streams the `file` part to disk (`datasets.uploads`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import F, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, UnsupportedMediaType
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from datasets import services
from datasets.models import (
    CONFIGS_FOLDER,
    PARTIAL_FOLDER,
    Dataset,
    DatasetFile,
    FileStatus,
    TokenLengthsStatus,
    TrainConfig,
)
from datasets.serializers import (
    DatasetCreatedSerializer,
    DatasetCreateSerializer,
    DatasetFileReportSerializer,
    DatasetFileSerializer,
    DatasetFileUploadSerializer,
    DatasetPreviewSerializer,
    DatasetRecordSerializer,
    DatasetTokenLengthsRequestSerializer,
    DatasetTokenLengthsSerializer,
    DatasetUploadedSerializer,
    TrainConfigDeletedSerializer,
    TrainConfigDetailSerializer,
    TrainConfigSerializer,
    TrainConfigSummarySerializer,
    TrainConfigUploadedSerializer,
    TrainConfigUploadSerializer,
    UploadAbortedSerializer,
    UploadSessionCreateSerializer,
    UploadSessionSerializer,
)
from datasets.uploads import StagingMultiPartParser, received_file
from datasets.validation import read_records
from llmplatform.api import PAGED, LengthRequired, get_or_404
from llmplatform.errors import ConflictingState, InvalidInput, NotFound
from projects.serializers import share_with_field
from projects.sharing import project_to_share_with

PREVIEW_MAX_LIMIT = 200
CHUNK_MEDIA_TYPES = ("application/octet-stream", "application/offset+octet-stream")
ERROR_RESPONSES = {
    400: OpenApiResponse(description="Bad input: `{detail, ...}` naming what is wrong"),
    404: OpenApiResponse(description="No such dataset or upload"),
}


def _deny_unless_allowed(request: Request, obj: Dataset | DatasetFile | TrainConfig) -> None:
    if not obj.can_change(request.user):
        raise PermissionDenied("Only its owner, or staff, may change or delete it.")


def visible_files(request: Request) -> QuerySet[DatasetFile]:
    """Files of the datasets the caller sees."""
    return DatasetFile.objects.select_related("dataset").filter(dataset__in=Dataset.objects.visible_to(request.user))


class StagingUploadMixin:
    """What `StagingMultiPartParser` asks the view: where to stage and how much to take."""

    staging_folder = PARTIAL_FOLDER

    def staging_directory(self) -> Path:
        return services.staging_directory(self.staging_folder)

    def upload_limit(self) -> int:
        return settings.MAX_SMALL_FILE_BYTES


@extend_schema(tags=["datasets"])
class DatasetViewSet(
    StagingUploadMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Datasets: a record, its files (uploaded, validated line by line), its config."""

    serializer_class = DatasetRecordSerializer
    lookup_url_kwarg = "dataset_id"

    def get_queryset(self) -> QuerySet[Dataset]:
        configs = TrainConfig.objects.visible_to(self.request.user).select_related("created_by")
        queryset = (
            Dataset.objects.visible_to(self.request.user)
            .select_related("created_by")
            .prefetch_related("files", Prefetch("train_configs", configs))
        )
        if task_type := self.request.query_params.get("task_type"):
            queryset = queryset.filter(task_type=task_type)
        if query := self.request.query_params.get("q"):
            queryset = queryset.filter(name__icontains=query)
        return queryset.order_by("-created_at", "-id")

    @extend_schema(
        summary="List datasets, newest first",
        parameters=[
            OpenApiParameter("task_type", str, description="Only this task type"),
            OpenApiParameter("q", str, description="Name contains"),
            *PAGED,
        ],
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Create a dataset record",
        request=DatasetCreateSerializer,
        responses={201: DatasetCreatedSerializer, 400: ERROR_RESPONSES[400]},
    )
    def create(self, request: Request) -> Response:
        body = DatasetCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        project = project_to_share_with(request.user, fields.pop("project", None))
        dataset = services.create_dataset(created_by=request.user, project=project, **fields)
        return Response(DatasetCreatedSerializer(dataset).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="A dataset with its files and upload progress",
        responses={200: DatasetRecordSerializer, 404: ERROR_RESPONSES[404]},
    )
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Delete a dataset and every file it stored (owner or staff)",
        responses={204: None, 403: OpenApiResponse(description="Not yours"), 404: ERROR_RESPONSES[404]},
    )
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        dataset = self.get_object()
        _deny_unless_allowed(request, dataset)
        services.delete_dataset(dataset=dataset, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["PUT"],
        summary="Upload a file (multipart field `file`, at most MAX_SMALL_FILE_BYTES)",
        description=(
            "The file streams to disk, is hashed while it arrives, and appears under "
            "`HOST_TRAINING_DIR/datasets/<upload_id>_<name>` only once complete. It is then "
            "validated against the dataset's task_type (small files at once, larger ones by a worker). "
            "Larger files: use the resumable upload (`POST /v1/datasets/{dataset_id}/uploads`)."
        ),
        request={"multipart/form-data": DatasetFileUploadSerializer},
        responses={
            201: DatasetUploadedSerializer,
            400: ERROR_RESPONSES[400],
            403: OpenApiResponse(description="Not yours: only the dataset's owner and staff add files"),
            404: ERROR_RESPONSES[404],
            413: OpenApiResponse(description="Larger than MAX_SMALL_FILE_BYTES; nothing kept"),
            415: OpenApiResponse(description="Not multipart/form-data"),
        },
    )
    @extend_schema(
        methods=["GET"],
        summary="The dataset's files, oldest first",
        parameters=PAGED,
        responses={200: DatasetFileSerializer(many=True), 400: ERROR_RESPONSES[400], 404: ERROR_RESPONSES[404]},
    )
    @action(detail=True, methods=["get", "put"], parser_classes=[StagingMultiPartParser])
    def files(self, request: Request, dataset_id: str) -> Response:
        dataset = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(dataset.files.order_by("created_at", "id"))
            return self.get_paginated_response(DatasetFileSerializer(page, many=True).data)
        _deny_unless_allowed(request, dataset)  # before a byte of the upload is read
        upload = received_file(request)
        dataset_file = services.publish_staged_file(
            dataset=dataset, staged=upload.staged, filename=upload.name, created_by=request.user
        )
        return Response(DatasetUploadedSerializer(dataset_file).data, status=status.HTTP_201_CREATED)

    def _file(self, upload_id: str) -> DatasetFile:
        """A file of this dataset: an upload id from another dataset is a 404 here."""
        dataset = self.get_object()
        files = DatasetFile.objects.select_related("dataset").filter(dataset=dataset)
        return get_or_404(files, f"No file {upload_id} in this dataset.", pk=upload_id)

    @extend_schema(
        summary="A file of the dataset with its validation report",
        responses={200: DatasetFileReportSerializer, 404: ERROR_RESPONSES[404]},
    )
    @action(detail=True, methods=["get"], url_path=r"files/(?P<upload_id>[^/]+)")
    def file_report(self, request: Request, dataset_id: str, upload_id: str) -> Response:
        return Response(DatasetFileReportSerializer(self._file(upload_id)).data)

    @extend_schema(
        summary="Parsed records of a file, a page at a time",
        parameters=[
            OpenApiParameter("offset", {"type": "integer", "minimum": 0}, description="Lines to skip (default 0)"),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": PREVIEW_MAX_LIMIT},
                description=f"Lines to return, 1..{PREVIEW_MAX_LIMIT} (default 20)",
            ),
        ],
        responses={
            200: DatasetPreviewSerializer,
            400: ERROR_RESPONSES[400],
            404: ERROR_RESPONSES[404],
            409: OpenApiResponse(description="The file is still uploading"),
        },
    )
    @action(detail=True, methods=["get"], url_path=r"files/(?P<upload_id>[^/]+)/preview")
    def preview(self, request: Request, dataset_id: str, upload_id: str) -> Response:
        dataset_file = self._file(upload_id)
        offset = _int_param(request, "offset", 0, minimum=0, maximum=None)
        limit = _int_param(request, "limit", 20, minimum=1, maximum=PREVIEW_MAX_LIMIT)
        if dataset_file.status == FileStatus.UPLOADING:
            raise ConflictingState(_("The file is still uploading; finish the upload first."))
        items = read_records(dataset_file.absolute_path, dataset_file.dataset.task_type, offset=offset, limit=limit + 1)
        more = len(items) > limit
        body = {
            "upload_id": dataset_file.pk,
            "offset": offset,
            "limit": limit,
            "items": items[:limit],
            "next_offset": offset + limit if more else None,
        }
        return Response(DatasetPreviewSerializer(body).data)

    @extend_schema(
        methods=["GET"],
        summary="A file's token lengths, by each tokenizer they were measured with",
        parameters=PAGED,
        responses={200: DatasetTokenLengthsSerializer(many=True), 404: ERROR_RESPONSES[404]},
    )
    @extend_schema(
        methods=["POST"],
        summary="Measure a file's token lengths with a model's own tokenizer",
        description=(
            "Counts the tokens of each field of every record (and of each record in all) with the tokenizer.json "
            "of the model folder named, never a downloaded one. A small file is measured at once (200); a bigger "
            "one by a worker (202, with `progress`). Measured already with the same tokenizer: that measurement."
        ),
        request=DatasetTokenLengthsRequestSerializer,
        responses={
            200: DatasetTokenLengthsSerializer,
            202: DatasetTokenLengthsSerializer,
            400: OpenApiResponse(description="No tokenizer.json in such a model folder"),
            404: ERROR_RESPONSES[404],
            409: OpenApiResponse(description="The file is not validated (ready) yet"),
        },
    )
    @action(detail=True, methods=["get", "post"], url_path=r"files/(?P<upload_id>[^/]+)/token-lengths")
    def token_lengths(self, request: Request, dataset_id: str, upload_id: str) -> Response:
        dataset_file = self._file(upload_id)
        if request.method == "GET":
            page = self.paginate_queryset(
                dataset_file.token_lengths.select_related("dataset_file").order_by("-created_at", "pk")
            )
            return self.get_paginated_response(DatasetTokenLengthsSerializer(page, many=True).data)
        body = DatasetTokenLengthsRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        lengths = services.measure_token_lengths(
            dataset_file=dataset_file, model=body.validated_data["model"], actor=request.user
        )
        done = lengths.status != TokenLengthsStatus.MEASURING
        return Response(DatasetTokenLengthsSerializer(lengths).data, status=200 if done else 202)

    @extend_schema(
        summary="Start a resumable upload of a large file",
        description=(
            "Announce the file (`filename`, `total_bytes`, optionally `sha256`), then send its bytes with "
            "`PATCH /v1/uploads/{upload_id}?offset=N` (body: application/octet-stream). After a broken "
            "connection, `HEAD` or `GET /v1/uploads/{upload_id}` says the offset to resume from. "
            "`POST /v1/uploads/{upload_id}/finish` checks size and SHA-256 and publishes the file; "
            "`DELETE /v1/uploads/{upload_id}` aborts. The whole lines received are validated while the "
            "upload goes on (every UPLOAD_VALIDATION_STEP_BYTES), so little is left to check after `finish`."
        ),
        request=UploadSessionCreateSerializer,
        responses={
            201: UploadSessionSerializer,
            400: ERROR_RESPONSES[400],
            403: OpenApiResponse(description="Not yours: only the dataset's owner and staff add files"),
            404: ERROR_RESPONSES[404],
            413: OpenApiResponse(description="Larger than MAX_LARGE_FILE_BYTES"),
            507: OpenApiResponse(description="Not enough disk space"),
        },
    )
    @action(detail=True, methods=["post"])
    def uploads(self, request: Request, dataset_id: str) -> Response:
        dataset = self.get_object()
        _deny_unless_allowed(request, dataset)
        body = UploadSessionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        dataset_file = services.start_resumable_upload(dataset=dataset, created_by=request.user, **body.validated_data)
        return Response(UploadSessionSerializer(dataset_file).data, status=status.HTTP_201_CREATED)


def _int_param(request: Request, name: str, default: int, *, minimum: int, maximum: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    return _parse_int(name, raw, minimum=minimum, maximum=maximum)


def _parse_int(name: str, raw: str, *, minimum: int, maximum: int | None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(
            format_lazy(_("{name} must be an integer, got {raw!r}."), name=name, raw=raw), field=name
        ) from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise InvalidInput(
            format_lazy(_("{name} must be {bounds}, got {value}."), name=name, bounds=bounds, value=value), field=name
        )
    return value


def _upload_headers(dataset_file: DatasetFile) -> dict[str, str]:
    headers = {"Upload-Offset": str(dataset_file.received_bytes), "Cache-Control": "no-store"}
    if dataset_file.expected_bytes is not None:
        headers["Upload-Length"] = str(dataset_file.expected_bytes)
    return headers


def append_chunk_schema(summary: str) -> Callable[[F], F]:
    """PATCH and PUT of an upload are one operation under two methods."""
    return extend_schema(
        summary=summary,
        parameters=[
            OpenApiParameter(
                "offset",
                {"type": "integer", "minimum": 0},
                description="Where the chunk starts; or the Upload-Offset header",
            )
        ],
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={
            200: UploadSessionSerializer,
            400: OpenApiResponse(description="No offset, or the chunk ended early (`received_bytes`: resume there)"),
            403: OpenApiResponse(description="Not yours: only the dataset's owner and staff add files"),
            404: ERROR_RESPONSES[404],
            409: OpenApiResponse(description="Wrong offset (`received_bytes` says where to resume) or not uploading"),
            411: OpenApiResponse(description="No Content-Length, or an empty chunk"),
            413: OpenApiResponse(description="The chunk goes past total_bytes"),
            415: OpenApiResponse(description="Body is not application/octet-stream"),
        },
    )


@extend_schema(tags=["datasets"])
class UploadView(APIView):
    """One upload: its offset (resume), its chunks, and abort / removal."""

    def _upload(self, upload_id: str) -> DatasetFile:
        return get_object_or_404(visible_files(self.request), pk=upload_id)

    @extend_schema(
        summary="An upload and the offset to resume from (HEAD: just the Upload-Offset/Upload-Length headers)",
        responses={200: UploadSessionSerializer, 404: ERROR_RESPONSES[404]},
    )
    def get(self, request: Request, upload_id: str) -> Response:
        dataset_file = self._upload(upload_id)
        return Response(UploadSessionSerializer(dataset_file).data, headers=_upload_headers(dataset_file))

    def head(self, request: Request, upload_id: str) -> Response:
        return Response(headers=_upload_headers(self._upload(upload_id)))

    @append_chunk_schema("Append a chunk at `offset` (also PUT)")
    def patch(self, request: Request, upload_id: str) -> Response:
        dataset_file = self._upload(upload_id)
        _deny_unless_allowed(request, dataset_file)
        media_type = (request.content_type or "").split(";")[0].strip().lower()
        if media_type not in CHUNK_MEDIA_TYPES:
            raise UnsupportedMediaType(media_type or "(none)", detail="Send chunks as application/octet-stream.")
        # An empty ?offset= is none at all, as for every query parameter (the header may still give it).
        raw_offset = request.query_params.get("offset") or request.headers.get("Upload-Offset")
        if raw_offset is None:
            raise InvalidInput(
                _("Say where the chunk starts: ?offset=N or the Upload-Offset header."), missing=["offset"]
            )
        offset = _parse_int("offset", raw_offset, minimum=0, maximum=None)
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length <= 0:
            raise LengthRequired("A chunk needs a Content-Length and at least one byte.")
        services.append_chunk(dataset_file=dataset_file, offset=offset, length=length, stream=request.stream)
        return Response(UploadSessionSerializer(dataset_file).data, headers=_upload_headers(dataset_file))

    @append_chunk_schema("Append a chunk at `offset` (same as PATCH)")
    def put(self, request: Request, upload_id: str) -> Response:
        return self.patch(request, upload_id)

    @extend_schema(
        summary="Abort an upload, or remove an uploaded file (the dataset's owner or staff)",
        responses={
            200: UploadAbortedSerializer,
            403: OpenApiResponse(description="Not yours"),
            404: ERROR_RESPONSES[404],
        },
    )
    def delete(self, request: Request, upload_id: str) -> Response:
        dataset_file = self._upload(upload_id)
        _deny_unless_allowed(request, dataset_file)
        services.remove_dataset_file(dataset_file=dataset_file, actor=request.user)
        return Response(UploadAbortedSerializer({"upload_id": upload_id, "status": "aborted"}).data)


@extend_schema(tags=["datasets"])
class UploadFinishView(APIView):
    @extend_schema(
        summary="Finish a resumable upload: check size and SHA-256, publish, validate",
        request=None,
        responses={
            200: DatasetFileReportSerializer,
            400: OpenApiResponse(description="SHA-256 mismatch: the upload was discarded"),
            403: OpenApiResponse(description="Not yours: only the dataset's owner and staff add files"),
            404: ERROR_RESPONSES[404],
            409: OpenApiResponse(description="Bytes missing (`received_bytes`), or not uploading"),
        },
    )
    def post(self, request: Request, upload_id: str) -> Response:
        dataset_file = get_object_or_404(visible_files(request), pk=upload_id)
        _deny_unless_allowed(request, dataset_file)
        dataset_file = services.finish_resumable_upload(dataset_file=dataset_file, actor=request.user)
        return Response(DatasetFileReportSerializer(dataset_file).data)


# --- training configs -----------------------------------------------------------


class TrainConfigUploadMixin(StagingUploadMixin):
    staging_folder = CONFIGS_FOLDER
    parser_classes: Sequence[type[BaseParser]] = [StagingMultiPartParser]

    def upload_limit(self) -> int:
        return settings.MAX_YAML_BYTES

    def _upload(self, request: Request, *, make_current: bool) -> TrainConfig:
        upload = received_file(request)
        with upload.staged:  # a refused project leaves nothing behind either
            project = project_to_share_with(request.user, request.data.get("project"))
            return services.upload_train_config(
                staged=upload.staged,
                filename=upload.name,
                created_by=request.user,
                make_current=make_current,
                task_type=request.data.get("task_type") or None,
                project=project,
            )


UPLOAD_CONFIG_RESPONSES = {
    400: OpenApiResponse(description="Not YAML, not a mapping, or lacking required keys: `errors` lists them"),
    413: OpenApiResponse(description="Larger than MAX_YAML_BYTES"),
    415: OpenApiResponse(description="Not multipart/form-data"),
}


@extend_schema(tags=["train-config"])
class CurrentTrainConfigView(TrainConfigUploadMixin, APIView):
    """The caller's single current training config (every upload is also kept: /v1/train-configs).

    Each user has their own: one user's upload never replaces, and their DELETE never
    removes, another's current config.
    """

    def _current(self) -> TrainConfig:
        config = TrainConfig.objects.current_of(self.request.user)
        if config is None:
            raise NotFound(_("You have no current training config; upload one with PUT /v1/train-config."))
        return config

    @extend_schema(
        summary="Upload a training YAML and make it your current one",
        request={"multipart/form-data": TrainConfigUploadSerializer},
        responses={200: TrainConfigUploadedSerializer, **UPLOAD_CONFIG_RESPONSES},
    )
    def put(self, request: Request) -> Response:
        config = self._upload(request, make_current=True)
        return Response(TrainConfigUploadedSerializer(config).data)

    @extend_schema(
        summary="Your current training config", responses={200: TrainConfigSummarySerializer, 404: ERROR_RESPONSES[404]}
    )
    def get(self, request: Request) -> Response:
        config = self._current()
        return Response(
            {**TrainConfigSummarySerializer(config).data, "id": str(config.pk), "path": config.relative_path}
        )

    @extend_schema(
        summary="Delete your current training config",
        responses={200: TrainConfigDeletedSerializer, 404: ERROR_RESPONSES[404]},
    )
    def delete(self, request: Request) -> Response:
        config = self._current()
        services.delete_train_config(config=config, actor=request.user)
        return Response(TrainConfigDeletedSerializer({"status": "train_config_deleted"}).data)


@extend_schema(tags=["train-config"])
class TrainConfigViewSet(
    TrainConfigUploadMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Every uploaded training config, each nameable by a project's training_yaml_name."""

    lookup_url_kwarg = "config_id"

    def get_serializer_class(self):
        return TrainConfigDetailSerializer if self.action == "retrieve" else TrainConfigSerializer

    def get_queryset(self) -> QuerySet[TrainConfig]:
        queryset = TrainConfig.objects.visible_to(self.request.user).select_related("created_by")
        if task_type := self.request.query_params.get("task_type"):
            queryset = queryset.filter(task_type=task_type)
        return queryset

    @extend_schema(
        summary="Training configs, newest first",
        parameters=[OpenApiParameter("task_type", str, description="Only this task type"), *PAGED],
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="A training config with its YAML content",
        responses={200: TrainConfigDetailSerializer, 404: ERROR_RESPONSES[404]},
    )
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Upload a training YAML without making it your current one (unless `current=true`)",
        request={
            "multipart/form-data": inline_serializer(
                "TrainConfigCreateForm",
                {
                    "file": serializers.FileField(),
                    "task_type": serializers.CharField(required=False),
                    "current": serializers.BooleanField(required=False, default=False),
                    "project": share_with_field(),
                },
            )
        },
        responses={201: TrainConfigSerializer, **UPLOAD_CONFIG_RESPONSES},
    )
    def create(self, request: Request) -> Response:
        make_current = str(request.data.get("current", "")).lower() in {"1", "true", "yes", "on"}
        config = self._upload(request, make_current=make_current)
        return Response(TrainConfigSerializer(config).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Delete a training config and its file (owner or staff)",
        responses={
            200: TrainConfigDeletedSerializer,
            403: OpenApiResponse(description="Not yours"),
            404: ERROR_RESPONSES[404],
        },
    )
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        config = self.get_object()
        _deny_unless_allowed(request, config)
        services.delete_train_config(config=config, actor=request.user)
        return Response(TrainConfigDeletedSerializer({"status": "train_config_deleted"}).data)
