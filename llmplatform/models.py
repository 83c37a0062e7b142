"""The platform's own bookkeeping, shared by the apps."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from llmplatform.leases import Leased


class SupervisorLease(Leased):
    """One supervision loop of one host (`runs@gpu-host-1`): its lease lets one live loop work at a time."""

    name = models.CharField(max_length=255, unique=True, verbose_name=_("name"))

    class Meta:
        verbose_name = _("supervisor lease")
        verbose_name_plural = _("supervisor leases")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} held by {self.lease_owner or 'nobody'}"

    @classmethod
    def named(cls, name: str) -> SupervisorLease:
        return cls.objects.get_or_create(name=name)[0]
