from __future__ import annotations

from rest_framework import serializers

from deployments.models import Deployment, DeploymentStatus
from deployments.vllm import quoted
from projects.serializers import share_with_field, shared_with_field


class DeploymentCreateSerializer(serializers.Serializer):
    model_path = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1024,
        help_text="A model folder relative to MODELS_DIR, e.g. `models/qwen2.5`. Give this or `artifact_id`.",
    )
    artifact_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text=(
            "Instead of `model_path`: a run's artifact tagged `release`. A checkpoint or model artifact is "
            "served as it is; an adapter is served on its run's base model (the run's `model`, else the "
            "project's `base_model`, under MODELS_DIR) with `--enable-lora --lora-modules name=path`."
        ),
    )
    served_model_name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=128,
        help_text="The name clients pass as `model`; defaults to the model folder's name (or run-artifact).",
    )
    model_version = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=32
    )
    extra_args = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4096,
        default="",
        help_text=(
            "More vLLM options, shell-quoted (`--max-num-seqs 4 --dtype=half`): the performance and serving "
            "options of the platform's allowlist, each with values of its shape (a refusal lists them); paths "
            "relative to the model folder or MODELS_DIR. Staff may allow more for one deployment in the admin."
        ),
    )
    preferred_gpu = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="A GPU index; unset: the free GPU with most free memory.",
    )
    gpu_type = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        default="",
        help_text='A GPU model, e.g. "A100" (case aside, word by word: "A10" is no A100); unset: any.',
    )
    health_path = serializers.CharField(
        required=False, max_length=200, default="/health", help_text="A plain absolute path probed on the server."
    )
    project = share_with_field()


class DeploymentInfoSerializer(serializers.ModelSerializer):
    deployment_id = serializers.UUIDField(source="id", read_only=True)
    tags = serializers.ListField(child=serializers.CharField())
    started_at = serializers.SerializerMethodField(help_text="Epoch seconds.")
    stopped_at = serializers.SerializerMethodField(help_text="Epoch seconds.")
    ready_at = serializers.SerializerMethodField(help_text="Epoch seconds of the first healthy probe.")
    last_probe_at = serializers.SerializerMethodField(help_text="Epoch seconds.")
    vllm_cmd = serializers.SerializerMethodField(help_text="The server's exact argv, shell-quoted.")
    artifact_id = serializers.UUIDField(read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    project_id = shared_with_field()
    last_log_lines = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = [
            "deployment_id",
            "model_path",
            "model_version",
            "tags",
            "gpu_id",
            "port",
            "pid",
            "status",
            "started_at",
            "stopped_at",
            "health_ok",
            "vllm_cmd",
            "log_file",
            "health_path",
            "served_model_name",
            "artifact_id",
            "extra_args",
            "status_detail",
            "exit_code",
            "ready_at",
            "last_probe_at",
            "failed_probes",
            "last_log_lines",
            "created_by",
            "project_id",
        ]
        read_only_fields = fields

    @staticmethod
    def _epoch(value) -> float | None:
        return value.timestamp() if value is not None else None

    def get_started_at(self, deployment: Deployment) -> float | None:
        return self._epoch(deployment.started_at)

    def get_stopped_at(self, deployment: Deployment) -> float | None:
        return self._epoch(deployment.stopped_at)

    def get_ready_at(self, deployment: Deployment) -> float | None:
        return self._epoch(deployment.ready_at)

    def get_last_probe_at(self, deployment: Deployment) -> float | None:
        return self._epoch(deployment.last_probe_at)

    def get_vllm_cmd(self, deployment: Deployment) -> str:
        return quoted(deployment.argv)

    def get_last_log_lines(self, deployment: Deployment) -> list[str]:
        return deployment.last_log_lines.splitlines() if deployment.last_log_lines else []


class DeploymentListQuerySerializer(serializers.Serializer):
    model = serializers.CharField(required=False, help_text="model_path or served model name.")
    tag = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=DeploymentStatus.choices, required=False)


class DeploymentStopQuerySerializer(serializers.Serializer):
    force = serializers.BooleanField(
        required=False, default=False, help_text="SIGKILL the group if SIGTERM is not enough."
    )


class DeploymentRemovedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    deployment_id = serializers.UUIDField()


class DeploymentLogQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, help_text="From 1; unset: the last page (the tail).")
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500, default=50)
    after = serializers.IntegerField(
        required=False, min_value=0, help_text="A byte offset (`next_offset` of the previous answer): lines after it."
    )

    def validate(self, attrs: dict) -> dict:
        if "page" in attrs and "after" in attrs:
            raise serializers.ValidationError("Give page or after, not both.")
        return attrs


class DeploymentLogLineSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    message = serializers.CharField()


class DeploymentLogPageSerializer(serializers.Serializer):
    page = serializers.IntegerField(allow_null=True)
    page_size = serializers.IntegerField()
    total = serializers.IntegerField()
    items = DeploymentLogLineSerializer(many=True)
    next_offset = serializers.IntegerField()
