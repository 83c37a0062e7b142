"""Who holds which GPU: this host's inventory joined with the shared GPU ledger."""

from __future__ import annotations

from dataclasses import dataclass

from gpus.inventory import Gpu, list_gpus
from gpus.models import GpuClaim


@dataclass(frozen=True)
class GpuRow:
    gpu: Gpu
    claim: GpuClaim | None

    @property
    def is_free(self) -> bool:
        return self.claim is None

    @property
    def memory_used_fraction(self) -> float | None:
        total, free = self.gpu.memory_total_bytes, self.gpu.memory_free_bytes
        if not total or free is None:
            return None
        return (total - free) / total


def gpu_rows() -> list[GpuRow]:
    """Every GPU of this host with its claim, if any (one query)."""
    claims = {claim.gpu_index: claim for claim in GpuClaim.objects.all()}
    return [GpuRow(gpu=gpu, claim=claims.get(gpu.index)) for gpu in list_gpus()]
