from __future__ import annotations

from rest_framework import serializers

from audit.models import AuditAction, AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "action",
            "verb",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "via",
            "client_address",
        ]


class AuditEventQuery(serializers.Serializer):
    actor = serializers.CharField(required=False, help_text="username of whoever acted")
    object_type = serializers.CharField(required=False, help_text="app_label.model, e.g. projects.project")
    object_id = serializers.CharField(required=False)
    action = serializers.ChoiceField(AuditAction.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text="ISO 8601; events at or after this moment")
