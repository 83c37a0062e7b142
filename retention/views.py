"""`/projects/{ref}/retention-policy`: a project's checkpoint retention, thin over retention.services.

Its team reads it; its creator and staff set or remove it; anybody else gets 404.
"""

from __future__ import annotations

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from llmplatform.api import PROJECT_REFERENCE
from llmplatform.errors import NotFound
from projects.models import Project, visible_project
from retention import services
from retention.models import RetentionPolicy
from retention.serializers import RetentionPolicySerializer

NOT_FOUND = OpenApiResponse(description="No such project visible to you, or it has no retention policy.")
FORBIDDEN = OpenApiResponse(description="Only the project's creator and staff set its retention policy.")


class RetentionPolicyView(APIView):
    def _project(self, reference: str) -> Project:
        return visible_project(self.request.user, reference)

    @extend_schema(
        summary="The project's checkpoint retention policy",
        parameters=[PROJECT_REFERENCE],
        responses={200: RetentionPolicySerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_reference: str) -> Response:
        project = self._project(project_reference)
        policy = RetentionPolicy.objects.filter(project=project).first()
        if policy is None:
            raise NotFound(
                format_lazy(
                    _("Project {project_name!r} has no retention policy: it keeps every checkpoint."),
                    project_name=project.name,
                )
            )
        return Response(RetentionPolicySerializer(policy).data)

    @extend_schema(
        summary="Set the project's checkpoint retention policy",
        parameters=[PROJECT_REFERENCE],
        request=RetentionPolicySerializer,
        responses={
            200: RetentionPolicySerializer,
            400: OpenApiResponse(description="Bad input."),
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def put(self, request: Request, project_reference: str) -> Response:
        project = self._project(project_reference)
        values = RetentionPolicySerializer(data=request.data)
        values.is_valid(raise_exception=True)
        policy = services.set_policy(project=project, actor=request.user, values=dict(values.validated_data))
        return Response(RetentionPolicySerializer(policy).data)

    @extend_schema(
        summary="Remove the project's retention policy (it keeps every checkpoint)",
        parameters=[PROJECT_REFERENCE],
        request=None,
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, project_reference: str) -> Response:
        services.remove_policy(project=self._project(project_reference), actor=request.user)
        return Response(status=204)
