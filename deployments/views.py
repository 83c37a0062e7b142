"""REST endpoints for deployments; thin: they check input and call `deployments.services`."""

from __future__ import annotations

from pathlib import Path

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from deployments import logs, services
from deployments.models import Deployment, DeploymentQuerySet
from deployments.serializers import (
    DeploymentCreateSerializer,
    DeploymentInfoSerializer,
    DeploymentListQuerySerializer,
    DeploymentLogPageSerializer,
    DeploymentLogQuerySerializer,
    DeploymentRemovedSerializer,
    DeploymentStopQuerySerializer,
)
from llmplatform.api import PAGED, get_or_404, paged_response
from projects.sharing import project_to_share_with

ERRORS = {
    400: OpenApiResponse(description="Bad input; `detail` says what is wrong."),
    404: OpenApiResponse(description="No such deployment visible to you (or artifact)."),
    409: OpenApiResponse(description="No free GPU or port, the preferred GPU is held, or the state forbids it."),
}


@extend_schema_view(
    list=extend_schema(
        summary="List deployments, newest first (stopped ones stay listed)",
        parameters=[DeploymentListQuerySerializer, *PAGED],
        responses={200: DeploymentInfoSerializer(many=True), 400: ERRORS[400]},
    ),
    create=extend_schema(
        summary="Start a vLLM server for a model",
        request=DeploymentCreateSerializer,
        responses={201: DeploymentInfoSerializer, **ERRORS},
    ),
    retrieve=extend_schema(summary="A deployment", responses={200: DeploymentInfoSerializer, 404: ERRORS[404]}),
    destroy=extend_schema(
        summary="Stop a deployment's server (SIGTERM its process group; with force, SIGKILL)",
        parameters=[DeploymentStopQuerySerializer],
        responses={200: DeploymentRemovedSerializer, 403: OpenApiResponse(description="Not its owner."), **ERRORS},
    ),
)
class DeploymentViewSet(viewsets.ViewSet):
    """Deployments are seen by their owner, the team of the project they are shared with, and
    staff (projects.sharing); their owner or staff stop them."""

    def _visible(self) -> DeploymentQuerySet:
        return Deployment.objects.visible_to(self.request.user).select_related("created_by").prefetch_related("tag_set")

    def _get(self, deployment_id: str) -> Deployment:
        return get_or_404(self._visible(), f"No deployment {deployment_id}.", pk=deployment_id)

    def list(self, request: Request) -> Response:
        query = DeploymentListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        deployments = self._visible()
        if "model" in query.validated_data:
            deployments = deployments.serving_model(query.validated_data["model"])
        if "tag" in query.validated_data:
            deployments = deployments.with_tag(query.validated_data["tag"])
        if "status" in query.validated_data:
            deployments = deployments.filter(status=query.validated_data["status"])
        return paged_response(request, deployments, DeploymentInfoSerializer)

    def create(self, request: Request) -> Response:
        body = DeploymentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        project = project_to_share_with(request.user, fields.pop("project", None))
        deployment = services.create_deployment(actor=request.user, project=project, **fields)
        return Response(DeploymentInfoSerializer(self._get(str(deployment.pk))).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, deployment_id: str) -> Response:
        return Response(DeploymentInfoSerializer(self._get(deployment_id)).data)

    def destroy(self, request: Request, deployment_id: str) -> Response:
        deployment = self._get(deployment_id)
        if not deployment.can_change(request.user):
            raise PermissionDenied("Only the deployment's owner or staff may stop it.")
        query = DeploymentStopQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        services.stop_deployment(deployment, actor=request.user, force=query.validated_data["force"])
        return Response({"detail": "deployment removed", "deployment_id": str(deployment.pk)})

    @extend_schema(
        summary="The server's log: a page of lines (default: the last page), or the lines after a byte offset",
        parameters=[DeploymentLogQuerySerializer],
        responses={200: DeploymentLogPageSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def logs(self, request: Request, deployment_id: str) -> Response:
        deployment = self._get(deployment_id)
        query = DeploymentLogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = query.validated_data
        path = Path(deployment.log_file)
        if "after" in options:
            page = logs.after(path, offset=options["after"], page_size=options["page_size"])
        else:
            page = logs.page_of(path, page=options.get("page"), page_size=options["page_size"])
        return Response(DeploymentLogPageSerializer(page).data)
