"""Webhook subscriptions of a project to the platform's events, and every delivery made to them."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from projects.models import Project


class EventName(models.TextChoices):
    RUN_STARTED = "run.started", _("Run started")
    RUN_COMPLETED = "run.completed", _("Run completed")
    RUN_FAILED = "run.failed", _("Run failed")
    RUN_CANCELLED = "run.cancelled", _("Run cancelled")
    # Emitted by the runs' healing (hang detection, preemption, retries) where it notices them.
    RUN_STALLED = "run.stalled", _("Run stalled")
    RUN_PREEMPTED = "run.preempted", _("Run preempted")
    RUN_RETRIED = "run.retried", _("Run retried")
    CHECKPOINT_SAVED = "checkpoint.saved", _("Checkpoint saved")
    CHECKPOINT_TAGGED = "checkpoint.tagged", _("Checkpoint tagged")
    DEPLOYMENT_UNHEALTHY = "deployment.unhealthy", _("Deployment unhealthy")
    DISK_LOW = "disk.low", _("Disk low")


class WebhookFormat(models.TextChoices):
    """The body a receiver expects: the platform's own JSON, or a chat robot's documented message."""

    JSON = "json", _("Generic JSON")
    SLACK = "slack", _("Slack")
    WECOM = "wecom", _("WeCom (企业微信) robot")
    FEISHU = "feishu", _("Feishu / Lark robot")
    DINGTALK = "dingtalk", _("DingTalk (钉钉) robot")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class Subscription(models.Model):
    """A project's webhook: where to send which of its events, in which format, signed with which secret."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks", verbose_name=_("project"))
    name = models.CharField(max_length=200, blank=True, verbose_name=_("name"))
    url = models.URLField(max_length=2000, verbose_name=_("URL"))
    format = models.CharField(
        max_length=16, choices=WebhookFormat.choices, default=WebhookFormat.JSON, verbose_name=_("format")
    )
    events = models.JSONField(
        default=list, help_text=_("Event names delivered; empty: every event."), verbose_name=_("events")
    )
    secret = models.CharField(
        max_length=200,
        default=new_secret,
        help_text=_("Signs each delivery (X-LLMP-Signature); for Feishu and DingTalk robots, the robot's own secret."),
        verbose_name=_("secret"),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name or self.url

    def wants(self, event: str) -> bool:
        return self.is_active and (not self.events or event in self.events)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # queued, not tried yet
    RETRYING = "retrying", _("Retrying")  # tried, failed, another attempt is scheduled
    DELIVERED = "delivered", _("Delivered")  # the receiver answered 2xx
    FAILED = "failed", _("Failed")  # every attempt failed, or the URL may not be called


class Delivery(models.Model):
    """One event sent (or to be sent) to one subscription, with what happened at its last attempt."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("subscription")
    )
    event = models.CharField(max_length=64, choices=EventName.choices, verbose_name=_("event"))
    payload = models.JSONField(
        default=dict, help_text=_("The event as the generic JSON format sends it."), verbose_name=_("payload")
    )
    status = models.CharField(
        max_length=16,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
        db_index=True,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    response_code = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("response code"))
    response_excerpt = models.TextField(
        blank=True, help_text=_("The start of the receiver's last answer."), verbose_name=_("response excerpt")
    )
    error = models.TextField(
        blank=True, help_text=_("Why the last attempt failed, when it did."), verbose_name=_("error")
    )
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays", verbose_name=_("replay of")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last attempt at"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription} ({self.status})"
