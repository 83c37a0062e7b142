"""`/projects/{ref}/webhooks/...`: a project's webhooks and their deliveries, thin views over notifications.services.

Who sees a project (its creator, members, staff) sees its webhooks without their secrets and
their deliveries; its creator and staff add, delete and replay. Anybody else gets 404.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from llmplatform.api import PAGED, PROJECT_REFERENCE, get_or_404
from notifications import services
from notifications.models import Delivery, Subscription
from notifications.serializers import (
    DeliverySerializer,
    SubscriptionCreatedSerializer,
    SubscriptionCreateSerializer,
    SubscriptionSerializer,
)
from projects.models import Project, visible_project

WEBHOOK_ID = OpenApiParameter("webhook_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The webhook's id.")
DELIVERY_ID = OpenApiParameter(
    "delivery_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The delivery's id."
)
NOT_FOUND = OpenApiResponse(description="No such project, webhook or delivery visible to you.")
FORBIDDEN = OpenApiResponse(description="Only the project's creator and staff manage its webhooks.")
UUID_PATTERN = "[0-9a-fA-F-]{32,36}"


class WebhookViewSet(viewsets.GenericViewSet):
    lookup_field = "webhook_id"
    lookup_value_regex = UUID_PATTERN
    serializer_class = SubscriptionSerializer
    queryset = Subscription.objects.none()  # every action looks its project and webhook up itself

    def _project(self) -> Project:
        return visible_project(self.request.user, self.kwargs["project_reference"])

    def _webhook(self) -> Subscription:
        project = self._project()
        webhook_id = self.kwargs["webhook_id"]
        return get_or_404(
            Subscription.objects.filter(project=project).select_related("project"),
            f"No webhook {webhook_id} in project {project.name!r}.",
            pk=webhook_id,
        )

    @extend_schema(
        summary="The project's webhooks",
        parameters=[PROJECT_REFERENCE, *PAGED],
        responses={200: SubscriptionSerializer(many=True), 404: NOT_FOUND},
    )
    def list(self, request: Request, project_reference: str) -> Response:
        webhooks = Subscription.objects.filter(project=self._project()).order_by("created_at")
        page = self.paginate_queryset(webhooks)
        return self.get_paginated_response(SubscriptionSerializer(page, many=True).data)

    @extend_schema(
        summary="Subscribe a URL to the project's events (the answer holds its signing secret, shown once)",
        parameters=[PROJECT_REFERENCE],
        request=SubscriptionCreateSerializer,
        responses={
            201: SubscriptionCreatedSerializer,
            400: OpenApiResponse(description="Bad input."),
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def create(self, request: Request, project_reference: str) -> Response:
        project = self._project()
        values = SubscriptionCreateSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        webhook = services.create_subscription(project=project, actor=request.user, **values.validated_data)
        return Response(SubscriptionCreatedSerializer(webhook).data, status=201)

    @extend_schema(
        summary="A webhook",
        parameters=[PROJECT_REFERENCE, WEBHOOK_ID],
        responses={200: SubscriptionSerializer, 404: NOT_FOUND},
    )
    def retrieve(self, request: Request, project_reference: str, webhook_id: str) -> Response:
        return Response(SubscriptionSerializer(self._webhook()).data)

    @extend_schema(
        summary="Delete a webhook and its deliveries",
        parameters=[PROJECT_REFERENCE, WEBHOOK_ID],
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def destroy(self, request: Request, project_reference: str, webhook_id: str) -> Response:
        services.delete_subscription(subscription=self._webhook(), actor=request.user)
        return Response(status=204)

    @extend_schema(
        summary="A webhook's deliveries, newest first",
        parameters=[PROJECT_REFERENCE, WEBHOOK_ID, *PAGED],
        responses={200: DeliverySerializer(many=True), 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, project_reference: str, webhook_id: str) -> Response:
        page = self.paginate_queryset(self._webhook().deliveries.order_by("-created_at"))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(
        summary="Send a recorded delivery's event again (a new delivery, freshly signed)",
        parameters=[PROJECT_REFERENCE, WEBHOOK_ID, DELIVERY_ID],
        request=None,
        responses={202: DeliverySerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"], url_path=rf"deliveries/(?P<delivery_id>{UUID_PATTERN})/replay")
    def replay(self, request: Request, project_reference: str, webhook_id: str, delivery_id: str) -> Response:
        webhook = self._webhook()
        delivery = get_or_404(
            Delivery.objects.filter(subscription=webhook).select_related("subscription__project"),
            f"No delivery {delivery_id} of webhook {webhook_id}.",
            pk=delivery_id,
        )
        again = services.replay(delivery=delivery, actor=request.user)
        return Response(DeliverySerializer(again).data, status=202)
