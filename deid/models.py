"""De-identification policies (versioned, immutable versions) and dataset jobs."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from deid.engine import Deidentifier, PolicyConfig

DEFAULT_POLICY_NAME = "default"


def new_policy_secret() -> str:
    return secrets.token_hex(32)


class DeidPolicy(models.Model):
    """A named set of rules. Its rules live in versions: an edit adds a version, so a
    dataset scrubbed last month can say exactly which rules it went through."""

    name = models.SlugField(max_length=64, unique=True, help_text=_("The policy_id clients send."))
    description = models.TextField(blank=True)
    # The HMAC key of its pseudonyms: kept across versions so a person keeps one
    # pseudonym; never shown by the API or the admin.
    secret = models.CharField(max_length=128, default=new_policy_secret, editable=False)
    current_version = models.ForeignKey(
        "DeidPolicyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("de-identification policy")
        verbose_name_plural = _("de-identification policies")
        permissions = [("view_pii_mapping", _("Can see the original personal data in de-identification mappings"))]

    def __str__(self) -> str:
        return self.name

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_POLICY_NAME

    def deidentifier(self, *, seed: int = 0, version: DeidPolicyVersion | None = None) -> Deidentifier:
        version = version or self.current_version
        return Deidentifier(config=version.policy_config, secret=bytes.fromhex(self.secret), seed=seed)


class DeidPolicyVersion(models.Model):
    """One immutable state of a policy's rules (`PolicyConfig.to_dict()`)."""

    policy = models.ForeignKey(DeidPolicy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    label = models.CharField(max_length=32, help_text=_("The policy_version clients see."))
    config = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [models.UniqueConstraint(fields=["policy", "number"], name="deid_policy_version_unique")]

    def __str__(self) -> str:
        return f"{self.policy.name} {self.label}"

    @property
    def policy_config(self) -> PolicyConfig:
        return PolicyConfig.from_dict(self.config)
