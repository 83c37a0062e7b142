"""Model deployments: vLLM servers the platform started, supervised as OS processes.

A deployment holds one GPU (in the shared ledger, `gpus.GpuClaim`) and one port
(unique among live deployments, enforced by the database) from the moment it is
created until its process group is verified gone.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from llmplatform import processes
from llmplatform.processes import ProcessIdentity
from llmplatform.transitions import StatusTransitions
from projects.sharing import Shared, SharedQuerySet


class DeploymentStatus(models.TextChoices):
    STARTING = "starting", _("Starting")  # process up, port not answering yet (loading the model)
    RUNNING = "running", _("Running")  # health path answers 200 and /v1/models lists the served name
    UNHEALTHY = "unhealthy", _("Unhealthy")  # N probes in a row failed
    STOPPED = "stopped", _("Stopped")  # stopped on request; its process group is gone
    FAILED = "failed", _("Failed")  # the process exited by itself, or never started


# The two status sets, named once. A live deployment holds a GPU and a port.
LIVE_STATUSES = frozenset({DeploymentStatus.STARTING, DeploymentStatus.RUNNING, DeploymentStatus.UNHEALTHY})
ENDED_STATUSES = frozenset({DeploymentStatus.STOPPED, DeploymentStatus.FAILED})


class DeploymentQuerySet(SharedQuerySet["Deployment"]):
    def live(self) -> DeploymentQuerySet:
        return self.filter(status__in=LIVE_STATUSES)

    def on_this_host(self) -> DeploymentQuerySet:
        return self.filter(host=settings.HOSTNAME)

    def with_tag(self, tag: str) -> DeploymentQuerySet:
        return self.filter(tag_set__value=tag)

    def serving_model(self, model: str) -> DeploymentQuerySet:
        """Deployments of `model`, given as the model_path it was deployed from or its served name."""
        return self.filter(Q(model_path=model) | Q(served_model_name=model))


class Deployment(Shared, StatusTransitions):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    status = models.CharField(
        max_length=16,
        choices=DeploymentStatus.choices,
        default=DeploymentStatus.STARTING,
        db_index=True,
        verbose_name=_("status"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    # What it serves.
    model_path = models.CharField(
        max_length=1024,
        help_text=_("As requested: relative to MODELS_DIR, or the artifact's path."),
        verbose_name=_("model path"),
    )
    artifact = models.ForeignKey(
        "runs.Artifact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deployments",
        verbose_name=_("artifact"),
    )
    served_model_name = models.CharField(
        max_length=128, help_text=_("The name clients pass as `model`."), verbose_name=_("served model name")
    )
    model_version = models.CharField(max_length=64, blank=True, verbose_name=_("model version"))
    extra_args = models.TextField(blank=True, verbose_name=_("extra args"))
    allowed_extra_flags = models.JSONField(
        default=list,
        blank=True,
        help_text=_("vLLM options beyond the platform's policy that staff allowed in this deployment's extra_args."),
        verbose_name=_("allowed extra flags"),
    )
    health_path = models.CharField(max_length=200, default="/health", verbose_name=_("health path"))

    # How it runs.
    host = models.CharField(
        max_length=255, blank=True, help_text=_("The host whose supervisor watches it."), verbose_name=_("host")
    )
    gpu_id = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("gpu id"))
    port = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("port"))
    argv = models.JSONField(default=list, blank=True, verbose_name=_("argv"))
    log_file = models.CharField(max_length=1024, blank=True, verbose_name=_("log file"))
    pid = models.IntegerField(
        null=True, blank=True, help_text=_("Leader of the server's process group."), verbose_name=_("pid")
    )
    process_start_time = models.BigIntegerField(
        null=True, blank=True, help_text=_("Clock ticks since boot."), verbose_name=_("process start time")
    )
    exit_code = models.IntegerField(null=True, blank=True, verbose_name=_("exit code"))

    # What the supervisor has seen.
    health_ok = models.BooleanField(default=False, verbose_name=_("health ok"))
    failed_probes = models.PositiveIntegerField(
        default=0, help_text=_("Failed probes in a row."), verbose_name=_("failed probes")
    )
    last_probe_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last probe at"))
    last_probe_seconds = models.FloatField(
        null=True, blank=True, help_text=_("How long the last probe took."), verbose_name=_("last probe seconds")
    )
    status_detail = models.TextField(
        blank=True, help_text=_("Why it is in its status, in a sentence."), verbose_name=_("status detail")
    )
    last_log_lines = models.TextField(
        blank=True, help_text=_("The end of the log when the server failed."), verbose_name=_("last log lines")
    )
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    ready_at = models.DateTimeField(
        null=True, blank=True, help_text=_("First time it answered health probes."), verbose_name=_("ready at")
    )
    stop_requested_at = models.DateTimeField(null=True, blank=True, verbose_name=_("stop requested at"))
    stopped_at = models.DateTimeField(null=True, blank=True, verbose_name=_("stopped at"))

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        verbose_name = _("deployment")
        verbose_name_plural = _("deployments")
        ordering = ["-created_at"]
        constraints = [
            # Two live deployments never share a port or a GPU, whatever races happen.
            models.UniqueConstraint(
                fields=["host", "port"], condition=Q(status__in=LIVE_STATUSES), name="unique_live_deployment_port"
            ),
            models.UniqueConstraint(
                fields=["host", "gpu_id"], condition=Q(status__in=LIVE_STATUSES), name="unique_live_deployment_gpu"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.served_model_name or self.model_path} ({str(self.id)[:8]})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def tags(self) -> list[str]:
        return [tag.value for tag in self.tag_set.all()]

    @property
    def process(self) -> ProcessIdentity | None:
        if self.pid is None or self.process_start_time is None:
            return None
        return ProcessIdentity(self.pid, self.process_start_time)

    @property
    def exit_code_file(self) -> str:
        return f"{self.log_file}.exit" if self.log_file else ""

    def read_exit_code(self) -> int | None:
        """The server's exit code, once its wrapper has recorded it."""
        return processes.read_exit_code(Path(self.exit_code_file)) if self.log_file else None

    def stop_is_stale(self, now: Any = None) -> bool:
        """A stop was asked for but whoever asked did not finish it (killed mid-request)."""
        if self.stop_requested_at is None:
            return False
        grace = timedelta(seconds=settings.DEPLOY_STOP_GRACE_SECONDS + 30)
        return (now or timezone.now()) - self.stop_requested_at > grace


class DeploymentTag(models.Model):
    """A free-form label on a deployment (`?tag=` filters on it)."""

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="tag_set", verbose_name=_("deployment")
    )
    value = models.CharField(max_length=64, db_index=True, verbose_name=_("value"))

    class Meta:
        verbose_name = _("deployment tag")
        verbose_name_plural = _("deployment tags")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["deployment", "value"], name="unique_deployment_tag")]

    def __str__(self) -> str:
        return self.value
