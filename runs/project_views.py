"""`/projects`: thin views over projects.services; references are a UUID or a unique name.

They live in runs, not in projects, because a project's detail lists its runs: runs
build on projects (a run belongs to one), so what shows a project with its runs sits
here, and projects never imports runs.
"""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from llmplatform.api import PAGED, PROJECT_REFERENCE
from llmplatform.errors import InvalidInput
from projects import services
from projects.models import Project, ProjectStatus, ProjectVersion, visible_project
from projects.serializers import ProjectSerializer, ProjectWriteSerializer
from runs.models import Run
from runs.serializers import ProjectDetailSerializer

ERROR_RESPONSES = {
    400: OpenApiResponse(description="Bad input: `{detail, errors}`."),
    404: OpenApiResponse(description="No such project visible to you."),
}


def project_detail_queryset() -> QuerySet[Project]:
    return Project.objects.with_runs_started().prefetch_related(
        "members",
        Prefetch("runs", queryset=Run.objects.only("id", "project_id", "name", "status", "progress", "started_at")),
        Prefetch("versions", queryset=ProjectVersion.objects.order_by("version")),
    )


@extend_schema_view(
    list=extend_schema(
        summary="List projects",
        parameters=[
            OpenApiParameter("owner", OpenApiTypes.STR, description="Only projects with this owner."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=ProjectStatus.values, description="Only this status."),
            OpenApiParameter("tag", OpenApiTypes.STR, description="Only projects carrying this tag."),
            OpenApiParameter("q", OpenApiTypes.STR, description="Text in the name, description or objective."),
            *PAGED,
        ],
        responses={200: ProjectSerializer(many=True), 400: ERROR_RESPONSES[400]},
    ),
    create=extend_schema(
        summary="Create a project",
        request=ProjectWriteSerializer,
        responses={
            201: ProjectDetailSerializer,
            400: ERROR_RESPONSES[400],
            403: OpenApiResponse(description="executor_options, max_concurrent_gpus and max_priority are for staff."),
            409: OpenApiResponse(description="A project with this name exists."),
        },
    ),
    retrieve=extend_schema(
        summary="A project with its runs and version history",
        parameters=[PROJECT_REFERENCE],
        responses={200: ProjectDetailSerializer, 404: ERROR_RESPONSES[404]},
    ),
    partial_update=extend_schema(
        summary="Change a project (each change adds a version)",
        parameters=[PROJECT_REFERENCE],
        request=ProjectWriteSerializer,
        responses={
            200: ProjectDetailSerializer,
            **ERROR_RESPONSES,
            403: OpenApiResponse(
                description="Only the project's creator and staff may change it; some fields staff only."
            ),
            409: OpenApiResponse(description="A project with this name exists."),
        },
    ),
)
class ProjectViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    lookup_field = "project_reference"
    lookup_value_regex = "[^/]+"
    serializer_class = ProjectSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Project]:
        projects = Project.objects.visible_to(self.request.user).with_runs_started().prefetch_related("members")
        params = self.request.query_params
        if owner := params.get("owner"):
            projects = projects.filter(owner=owner)
        if status := params.get("status"):
            if status not in ProjectStatus.values:
                raise InvalidInput(
                    format_lazy(_("status must be one of {choices}."), choices=", ".join(ProjectStatus.values))
                )
            projects = projects.filter(status=status)
        if tag := params.get("tag"):
            projects = projects.with_tag(tag)
        if text := params.get("q"):
            projects = projects.filter(
                Q(name__icontains=text) | Q(description__icontains=text) | Q(objective__icontains=text)
            )
        return projects.order_by("-created_at", "name")

    def _detail(self, project: Project, status: int = 200) -> Response:
        fresh = project_detail_queryset().get(pk=project.pk)
        return Response(ProjectDetailSerializer(fresh).data, status=status)

    def _check_staff_only(self, fields: dict) -> None:
        given = sorted(services.STAFF_ONLY_FIELDS & fields.keys())
        if given and not self.request.user.is_staff:
            raise PermissionDenied(f"Only staff may set {', '.join(given)}.")

    def create(self, request: Request) -> Response:
        body = ProjectWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        self._check_staff_only(fields)
        members = fields.pop("members", [])
        project = services.create_project(actor=request.user, fields=fields, members=members)
        return self._detail(project, status=201)

    def retrieve(self, request: Request, project_reference: str) -> Response:
        project = visible_project(request.user, project_reference)
        return self._detail(project)

    def partial_update(self, request: Request, project_reference: str) -> Response:
        project = visible_project(request.user, project_reference)
        if not project.can_edit(request.user):
            raise PermissionDenied("Only the project's creator and staff may change it.")
        body = ProjectWriteSerializer(project, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        self._check_staff_only(fields)
        members = fields.pop("members", None)
        project = services.update_project(project=project, actor=request.user, fields=fields, members=members)
        return self._detail(project)
