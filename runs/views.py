"""`/projects/{ref}/runs/...`: thin views over runs.services, runs.logs and the models."""

from __future__ import annotations

import uuid

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from llmplatform.api import PAGED, PROJECT_REFERENCE, get_or_404
from llmplatform.errors import InvalidInput
from llmplatform.prepared import Prepared, read_together
from projects.models import Project, first_visible, visible_project, visible_project_reads
from runs import services
from runs.logs import read_log_page
from runs.metric_series import read_series
from runs.models import Artifact, Run, RunStatus
from runs.serializers import (
    RunArtifactListSerializer,
    RunArtifactSerializer,
    RunCreateSerializer,
    RunDetailReads,
    RunDetailSerializer,
    RunLogPageSerializer,
    RunLogQuerySerializer,
    RunMetricsQuerySerializer,
    RunMetricsSerializer,
    RunNotesSerializer,
    RunSerializer,
    RunTagRequestSerializer,
)

# Every run endpoint looks its run up: compiled once (llmplatform.prepared), by its id alone, so that
# the run detail can read it before its project is found; a run is used only once it is in the project.
RUN_BY_ID: Prepared[Run] = Prepared(lambda run: Run.objects.filter(pk=run))
RUN_ID = OpenApiParameter("run_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The run's id.")
NOT_FOUND = OpenApiResponse(description="No such project or run visible to you.")
BAD_INPUT = OpenApiResponse(description="Bad input: `{detail, ...}` naming what is wrong.")
FORBIDDEN = OpenApiResponse(description="Only the project's creator, members and staff may do this.")
LAUNCH_FORBIDDEN = OpenApiResponse(
    description="Only the project's creator, members and staff may launch runs, and only staff above the project's "
    "priority ceiling (max_priority)."
)


def run_key(run_id: str) -> uuid.UUID | None:
    """The URL's run id as a UUID; None when it is not one (then it names no run)."""
    try:
        return uuid.UUID(run_id)
    except ValueError:
        return None


class RunViewSet(viewsets.GenericViewSet):
    lookup_field = "run_id"
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    serializer_class = RunSerializer
    queryset = Run.objects.none()  # every action looks its project and run up itself

    # --- lookups -----------------------------------------------------------
    def _project(self, *, operate: bool = False) -> Project:
        project = visible_project(self.request.user, self.kwargs["project_reference"])
        if operate and not project.can_operate(self.request.user):
            raise PermissionDenied("Only the project's creator, members and staff may launch or change its runs.")
        return project

    def _run(self, project: Project) -> Run:
        run_pk = run_key(self.kwargs["run_id"])
        return self._run_in(project, RUN_BY_ID.objects(run_pk) if run_pk else [])

    def _run_in(self, project: Project, found: list[Run]) -> Run:
        """The run found if it is `project`'s, else NotFound."""
        if not found or found[0].project_id != project.pk:
            raise self._no_run(project)
        return found[0]

    def _no_run(self, project: Project) -> NotFound:
        return NotFound(f"No run {self.kwargs['run_id']} in project {project.name!r}.")

    def _detail(self, run: Run, status: int = 200) -> Response:
        fresh = Run.objects.select_related("created_by").get(pk=run.pk)
        return Response(RunDetailSerializer(fresh).data, status=status)

    # --- collection --------------------------------------------------------
    @extend_schema(
        summary="The project's runs, newest first",
        parameters=[
            PROJECT_REFERENCE,
            OpenApiParameter("status", OpenApiTypes.STR, enum=RunStatus.values, description="Only this status."),
            OpenApiParameter("tag", OpenApiTypes.STR, description="Only runs carrying this tag."),
            OpenApiParameter("created_by", OpenApiTypes.STR, description="Only runs this user (a username) launched."),
            *PAGED,
        ],
        responses={200: RunSerializer(many=True), 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def list(self, request: Request, project_reference: str) -> Response:
        project = self._project()
        runs = project.runs.select_related("created_by").order_by("-created_at")
        if status := request.query_params.get("status"):
            if status not in RunStatus.values:
                raise InvalidInput(
                    format_lazy(_("status must be one of {choices}."), choices=", ".join(RunStatus.values))
                )
            runs = runs.filter(status=status)
        if tag := request.query_params.get("tag"):
            runs = runs.with_tag(tag)
        if creator := request.query_params.get("created_by"):
            runs = runs.filter(created_by__username=creator)
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(RunSerializer(page, many=True).data)

    @extend_schema(
        summary="Launch a run",
        parameters=[PROJECT_REFERENCE],
        request=RunCreateSerializer,
        responses={
            201: RunDetailSerializer,
            400: BAD_INPUT,
            403: LAUNCH_FORBIDDEN,
            404: NOT_FOUND,
            409: OpenApiResponse(description="The project is archived."),
        },
    )
    def create(self, request: Request, project_reference: str) -> Response:
        project = self._project(operate=True)
        body = RunCreateSerializer(data=request.data if request.data else {})
        body.is_valid(raise_exception=True)
        run = services.create_run(project=project, actor=request.user, **body.validated_data)
        return self._detail(run, status=201)

    # --- one run -----------------------------------------------------------
    @extend_schema(
        summary="A run: status, progress, metrics, timestamps, GPU use, artifacts, recent log lines",
        parameters=[PROJECT_REFERENCE, RUN_ID],
        responses={200: RunDetailSerializer, 404: NOT_FOUND},
    )
    def retrieve(self, request: Request, project_reference: str, run_id: str) -> Response:
        # Every read here is keyed by the URL alone, so all go to the database in one round trip;
        # nothing read is shown unless the project is visible to the caller and holds the run.
        project_reads = visible_project_reads(request.user, project_reference)
        run_pk = run_key(run_id)
        if run_pk is None:
            raise self._no_run(first_visible(project_reference, project_reads))
        found, shown = RUN_BY_ID.read_objects(run_pk), RunDetailReads(run_pk)
        read_together(*project_reads, found, *shown.reads)
        run = self._run_in(first_visible(project_reference, project_reads), found.answer())
        return Response(RunDetailSerializer(run, context={"reads": shown}).data)

    @extend_schema(
        summary="Change a run's notes and tags",
        parameters=[PROJECT_REFERENCE, RUN_ID],
        request=RunNotesSerializer,
        responses={200: RunDetailSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def partial_update(self, request: Request, project_reference: str, run_id: str) -> Response:
        run = self._run(self._project(operate=True))
        body = RunNotesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.annotate_run(run=run, actor=request.user, **body.validated_data)
        return self._detail(run)

    @extend_schema(
        summary="Cancel a run (SIGTERM, grace, SIGKILL, verified); keeps its latest checkpoint",
        parameters=[
            PROJECT_REFERENCE,
            RUN_ID,
            OpenApiParameter(
                "wait",
                OpenApiTypes.BOOL,
                required=False,
                description=(
                    "true (default): answer once every process is gone (200, status cancelled). false: answer at "
                    "once, 202 with the run still running and cancel_requested_at set, while its supervisor stops it "
                    "(SIGKILL CANCEL_GRACE_SECONDS after SIGTERM) and then marks it cancelled."
                ),
            ),
        ],
        request=None,
        responses={
            200: RunDetailSerializer,
            202: RunDetailSerializer,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: OpenApiResponse(description="The run has already finished."),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, project_reference: str, run_id: str) -> Response:
        run = self._run(self._project(operate=True))
        wait = request.query_params.get("wait", "true").strip().lower() not in {"false", "0", "no"}
        run = services.cancel_run(run=run, actor=request.user, wait=wait)
        return self._detail(run, status=202 if run.is_active else 200)

    @extend_schema(
        summary="Start a new run continuing from a checkpoint of this project",
        parameters=[
            PROJECT_REFERENCE,
            RUN_ID,
            OpenApiParameter(
                "source_artifact_id", OpenApiTypes.UUID, required=True, description="The checkpoint artifact."
            ),
        ],
        request=RunCreateSerializer,
        responses={
            201: RunDetailSerializer,
            400: BAD_INPUT,
            403: LAUNCH_FORBIDDEN,
            404: NOT_FOUND,
            409: OpenApiResponse(description="The project is archived."),
        },
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, project_reference: str, run_id: str) -> Response:
        run = self._run(self._project(operate=True))
        body = RunCreateSerializer(data=request.data if request.data else {})
        body.is_valid(raise_exception=True)
        resumed = services.resume_run(
            run=run,
            actor=request.user,
            source_artifact_id=request.query_params.get("source_artifact_id"),
            overrides=dict(body.validated_data),
        )
        return self._detail(resumed, status=201)

    @extend_schema(
        summary="A page of the run's log, in the order the process wrote it",
        parameters=[PROJECT_REFERENCE, RUN_ID, RunLogQuerySerializer],
        responses={200: RunLogPageSerializer, 400: BAD_INPUT, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def logs(self, request: Request, project_reference: str, run_id: str) -> Response:
        query = RunLogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        run = self._run(self._project())
        page = read_log_page(run, query.to_query())
        return Response(RunLogPageSerializer(page).data)

    @extend_schema(
        summary="The run's artifacts (checkpoints, config, adapters, events...) with their tags, oldest first",
        parameters=[PROJECT_REFERENCE, RUN_ID, *PAGED],
        responses={200: RunArtifactListSerializer, 400: BAD_INPUT, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def artifacts(self, request: Request, project_reference: str, run_id: str) -> Response:
        run = self._run(self._project())
        page = self.paginate_queryset(run.artifacts.prefetch_related("tags").order_by("created_at", "name", "id"))
        return self.get_paginated_response({"items": RunArtifactSerializer(page, many=True).data})

    @extend_schema(
        summary="Tag an artifact candidate, release or archived (候选, 发布, 归档)",
        parameters=[
            PROJECT_REFERENCE,
            RUN_ID,
            OpenApiParameter("artifact_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
        ],
        request=RunTagRequestSerializer,
        responses={200: RunArtifactSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"], url_path=r"artifacts/(?P<artifact_id>[0-9a-fA-F-]{32,36})/tag")
    def tag(self, request: Request, project_reference: str, run_id: str, artifact_id: str) -> Response:
        run = self._run(self._project(operate=True))
        artifact = get_or_404(run.artifacts.all(), f"No artifact {artifact_id} in run {run}.", pk=artifact_id)
        body = RunTagRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.tag_artifact(artifact=artifact, actor=request.user, **body.validated_data)
        fresh = Artifact.objects.prefetch_related("tags").get(pk=artifact.pk)
        return Response(RunArtifactSerializer(fresh).data)

    @extend_schema(
        summary="Metric time series of the run, one per metric name (for charts)",
        parameters=[PROJECT_REFERENCE, RUN_ID, RunMetricsQuerySerializer],
        responses={200: RunMetricsSerializer, 400: BAD_INPUT, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def metrics(self, request: Request, project_reference: str, run_id: str) -> Response:
        query = RunMetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        run = self._run(self._project())
        downsampling = "max_points" in query.validated_data
        series = []
        for item in read_series(run, query.series_query()):
            points = [{"step": step, "value": value, "timestamp": at} for step, value, at in item.points]
            extra = {"total_points": item.total, "downsampled": item.downsampled} if downsampling else {}
            series.append({"name": item.name, "points": points, **extra})
        body = {"run_id": run.pk, "series": series}
        return Response(RunMetricsSerializer(body).data)
