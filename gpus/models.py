"""The GPU ledger shared by training runs and model deployments.

A row exists while a GPU is held. The unique constraint on `gpu_index` is what
makes claims race-free on every database: of two concurrent claims of one GPU,
the second insert fails and that claim is refused.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class HolderKind(models.TextChoices):
    RUN = "run", _("Training run")
    DEPLOYMENT = "deployment", _("Deployment")


class GpuClaimQuerySet(models.QuerySet["GpuClaim"]):
    def held_by(self, kind: str, holder_id: object) -> GpuClaimQuerySet:
        return self.filter(holder_kind=kind, holder_id=str(holder_id))


class GpuClaim(models.Model):
    gpu_index = models.PositiveIntegerField(unique=True)
    holder_kind = models.CharField(max_length=16, choices=HolderKind.choices)
    holder_id = models.CharField(max_length=64, db_index=True)
    holder_label = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(auto_now_add=True)

    objects = GpuClaimQuerySet.as_manager()

    class Meta:
        ordering = ["gpu_index"]

    def __str__(self) -> str:
        return f"GPU {self.gpu_index} → {self.holder_kind} {self.holder_label or self.holder_id}"
