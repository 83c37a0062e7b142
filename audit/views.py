from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import AuditEvent
from audit.serializers import AuditEventQuery, AuditEventSerializer
from llmplatform.api import PAGED, paged_response

FILTERS = {"actor": "actor_name", "object_type": "object_type", "object_id": "object_id", "action": "action"}


class AuditEventListView(APIView):
    """Who did what to which object, newest first. Staff only."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        tags=["audit"],
        summary="The audit log, newest first (staff only)",
        parameters=[AuditEventQuery, *PAGED],
        responses={200: AuditEventSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        query = AuditEventQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        events = AuditEvent.objects.filter(**{field: params[name] for name, field in FILTERS.items() if name in params})
        if "since" in params:
            events = events.filter(created_at__gte=params["since"])
        return paged_response(request, events, AuditEventSerializer)
