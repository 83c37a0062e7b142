from __future__ import annotations

from typing import Any

from rest_framework import serializers

from notifications.models import Delivery, EventName, Subscription, WebhookFormat


class SubscriptionSerializer(serializers.ModelSerializer):
    """A webhook; its secret is shown once, in the answer to its creation."""

    project_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Subscription
        fields = ["id", "project_id", "name", "url", "format", "events", "is_active", "created_at"]


class SubscriptionCreatedSerializer(SubscriptionSerializer):
    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]


class SubscriptionCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    format = serializers.ChoiceField(WebhookFormat.choices, default=WebhookFormat.JSON)
    events = serializers.ListField(child=serializers.ChoiceField(EventName.choices), required=False, default=list)
    name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    secret = serializers.CharField(
        max_length=200,
        required=False,
        default="",
        allow_blank=True,
        help_text="Blank: a random one. For Feishu/Lark and DingTalk robots that sign, the robot's secret.",
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        values = super().to_internal_value(data)
        values["fmt"] = values.pop("format")
        return values


class DeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.UUIDField(source="subscription_id", read_only=True)
    replay_of = serializers.UUIDField(source="replay_of_id", read_only=True, allow_null=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook_id",
            "event",
            "status",
            "attempts",
            "response_code",
            "response_excerpt",
            "error",
            "payload",
            "replay_of",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
        ]
