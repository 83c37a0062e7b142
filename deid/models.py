"""De-identification policies (versioned, immutable versions) and dataset jobs."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from deid.engine import Deidentifier, PolicyConfig
from deid.entities import DEFAULT_LOCALE
from llmplatform.transitions import StatusTransitions
from llmplatform.users import Visitor

DEFAULT_POLICY_NAME = "default"
# A pseudonym seed is any 64-bit signed integer (what DeidJob.seed stores).
MIN_SEED, MAX_SEED = -(2**63), 2**63 - 1


def duplicate_policy_message(name: str) -> str:
    return f"A policy named {name!r} exists already."


def new_policy_secret() -> str:
    return secrets.token_hex(32)


class DeidPolicy(models.Model):
    """A named set of rules. Its rules live in versions: an edit adds a version, so a
    dataset scrubbed last month can say exactly which rules it went through."""

    name = models.SlugField(
        max_length=64, unique=True, help_text=_("The policy_id clients send."), verbose_name=_("name")
    )
    description = models.TextField(blank=True, verbose_name=_("description"))
    # The HMAC key of its pseudonyms: kept across versions so a person keeps one
    # pseudonym; never shown by the API or the admin.
    secret = models.CharField(max_length=128, default=new_policy_secret, editable=False, verbose_name=_("secret"))
    current_version = models.ForeignKey(
        "DeidPolicyVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("current version"),
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

    class Meta:
        ordering = ["name"]
        verbose_name = _("de-identification policy")
        verbose_name_plural = _("de-identification policies")
        permissions = [("view_pii_mapping", _("Can see the original personal data in de-identification mappings"))]

    def __str__(self) -> str:
        return self.name

    def unique_error_message(self, model_class: type[DeidPolicy], unique_check: Sequence[str]) -> ValidationError:
        if unique_check == ("name",):
            return ValidationError(duplicate_policy_message(self.name), code="unique")
        return super().unique_error_message(model_class, unique_check)

    @property
    def current(self) -> DeidPolicyVersion:
        """`current_version`, which only a policy still being created lacks."""
        if self.current_version is None:
            raise DeidPolicyVersion.DoesNotExist(f"Policy {self.name!r} has no version yet.")
        return self.current_version

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_POLICY_NAME

    def deidentifier(
        self, *, seed: int = 0, version: DeidPolicyVersion | None = None, locale: str = DEFAULT_LOCALE
    ) -> Deidentifier:
        version = version or self.current
        return Deidentifier(config=version.policy_config, secret=bytes.fromhex(self.secret), seed=seed, locale=locale)


class DeidPolicyVersion(models.Model):
    """One immutable state of a policy's rules (`PolicyConfig.to_dict()`)."""

    policy = models.ForeignKey(DeidPolicy, on_delete=models.CASCADE, related_name="versions", verbose_name=_("policy"))
    number = models.PositiveIntegerField(verbose_name=_("number"))
    label = models.CharField(max_length=32, help_text=_("The policy_version clients see."), verbose_name=_("label"))
    config = models.JSONField(verbose_name=_("config"))
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
        verbose_name = _("de-identification policy version")
        verbose_name_plural = _("de-identification policy versions")
        ordering = ["policy", "-number"]
        constraints = [models.UniqueConstraint(fields=["policy", "number"], name="deid_policy_version_unique")]

    def __str__(self) -> str:
        return f"{self.policy.name} {self.label}"

    @property
    def policy_config(self) -> PolicyConfig:
        return PolicyConfig.from_dict(self.config)


class DeidJobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


ACTIVE_JOB_STATUSES = frozenset({DeidJobStatus.QUEUED, DeidJobStatus.RUNNING})
FINISHED_JOB_STATUSES = frozenset({DeidJobStatus.SUCCEEDED, DeidJobStatus.FAILED})


class DeidJobQuerySet(models.QuerySet["DeidJob"]):
    def active(self) -> DeidJobQuerySet:
        return self.filter(status__in=ACTIVE_JOB_STATUSES)

    def visible_to(self, user: Visitor) -> DeidJobQuerySet:
        """A job reads raw personal data: staff see every job; others the ones they started or whose
        source dataset they own. A project the source is shared with gives its team the copy, not the job."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(Q(created_by=user) | Q(source__created_by=user))


class DeidJob(StatusTransitions):
    """Scrubbing every file of a dataset into a new dataset derived from it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    source = models.ForeignKey(
        "datasets.Dataset",
        null=True,
        on_delete=models.SET_NULL,
        related_name="deid_jobs",
        help_text=_("Never modified."),
        verbose_name=_("source"),
    )
    target = models.ForeignKey(
        "datasets.Dataset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deid_origin",
        verbose_name=_("target"),
    )
    policy = models.ForeignKey(
        DeidPolicy, null=True, on_delete=models.SET_NULL, related_name="jobs", verbose_name=_("policy")
    )
    policy_version = models.ForeignKey(
        DeidPolicyVersion,
        null=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        verbose_name=_("policy version"),
    )
    # Copies that outlive a deleted policy: which rules the data went through.
    policy_name = models.CharField(max_length=64, verbose_name=_("policy name"))
    policy_version_label = models.CharField(max_length=32, verbose_name=_("policy version label"))
    seed = models.BigIntegerField(default=0, verbose_name=_("seed"))
    target_name = models.CharField(max_length=200, verbose_name=_("target name"))
    status = models.CharField(
        max_length=16,
        choices=DeidJobStatus.choices,
        default=DeidJobStatus.QUEUED,
        db_index=True,
        verbose_name=_("status"),
    )
    total_bytes = models.BigIntegerField(default=0, verbose_name=_("total bytes"))
    processed_bytes = models.BigIntegerField(default=0, verbose_name=_("processed bytes"))
    lines = models.BigIntegerField(default=0, verbose_name=_("lines"))
    counts = models.JSONField(
        default=dict, blank=True, help_text=_("Replacements per entity type."), verbose_name=_("counts")
    )
    files = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Per file: name, lines, counts, new upload_id."),
        verbose_name=_("files"),
    )
    error_count = models.BigIntegerField(default=0, verbose_name=_("error count"))
    errors = models.JSONField(
        default=list,
        blank=True,
        help_text=_("The first problems: {file, line, reason}."),
        verbose_name=_("errors"),
    )
    detail = models.TextField(blank=True, help_text=_("Why the job failed."), verbose_name=_("detail"))
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
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    objects = DeidJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("de-identification job")
        verbose_name_plural = _("de-identification jobs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.target_name} ({self.status})"

    @property
    def progress(self) -> float:
        if self.status == DeidJobStatus.SUCCEEDED:
            return 1.0
        if not self.total_bytes:
            return 0.0
        return round(min(self.processed_bytes / self.total_bytes, 1.0), 4)
