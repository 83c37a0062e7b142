"""The GPU ledger shared by training runs and model deployments.

A row exists while a GPU is held. A GPU is named by its host (LLMP_HOSTNAME) and its
index there, so GPU 0 of one host and GPU 0 of another are two GPUs. The unique
constraint on the two is what makes claims race-free on every database: of two
concurrent claims of one GPU, the second insert fails and that claim is refused.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class HolderKind(models.TextChoices):
    RUN = "run", _("Training run")
    DEPLOYMENT = "deployment", _("Deployment")


def this_host() -> str:
    return settings.HOSTNAME


class GpuClaimQuerySet(models.QuerySet["GpuClaim"]):
    def held_by(self, kind: str, holder_id: object) -> GpuClaimQuerySet:
        """A holder's claims, on whichever host: its id is its own everywhere."""
        return self.filter(holder_kind=kind, holder_id=str(holder_id))

    def on_this_host(self) -> GpuClaimQuerySet:
        return self.filter(host=settings.HOSTNAME)


class GpuClaim(models.Model):
    host = models.CharField(
        max_length=255,
        default=this_host,
        help_text=_("The host the GPU is in (LLMP_HOSTNAME)."),
        verbose_name=_("host"),
    )
    gpu_index = models.PositiveIntegerField(verbose_name=_("gpu index"))
    holder_kind = models.CharField(max_length=16, choices=HolderKind.choices, verbose_name=_("holder kind"))
    holder_id = models.CharField(max_length=64, db_index=True, verbose_name=_("holder id"))
    holder_label = models.CharField(max_length=200, blank=True, verbose_name=_("holder label"))
    claimed_at = models.DateTimeField(auto_now_add=True, verbose_name=_("claimed at"))

    objects = GpuClaimQuerySet.as_manager()

    class Meta:
        verbose_name = _("GPU claim")
        verbose_name_plural = _("GPU claims")
        ordering = ["host", "gpu_index"]
        constraints = [models.UniqueConstraint(fields=["host", "gpu_index"], name="gpus_one_claim_per_gpu")]

    def __str__(self) -> str:
        return f"GPU {self.gpu_index} of {self.host} → {self.holder_kind} {self.holder_label or self.holder_id}"
