from rest_framework import serializers

from retention.models import RetentionPolicy


class RetentionPolicySerializer(serializers.ModelSerializer):
    project_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = RetentionPolicy
        fields = ["project_id", "keep_last", "keep_best", "best_metric", "best_is", "updated_at"]
        read_only_fields = ["updated_at"]
