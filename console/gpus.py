"""Who holds which GPU: this host's inventory joined with the shared GPU ledger.

Everyone sees which GPUs are free or held; the run or deployment holding one is named
only to those who may see it (deployments.holders), so the table reveals nobody's work.
"""

from __future__ import annotations

from dataclasses import dataclass

from deployments.holders import visible_holders
from gpus.inventory import Gpu, list_gpus
from gpus.models import GpuClaim
from llmplatform.users import Visitor


@dataclass(frozen=True)
class GpuRow:
    gpu: Gpu
    claim: GpuClaim | None
    holder_visible: bool = False

    @property
    def is_free(self) -> bool:
        return self.claim is None

    @property
    def holder(self) -> str:
        """The holder's name, or "" when the user may not see the holder."""
        if self.claim is None or not self.holder_visible:
            return ""
        return self.claim.holder_label or self.claim.holder_id

    @property
    def memory_used_fraction(self) -> float | None:
        total, free = self.gpu.memory_total_bytes, self.gpu.memory_free_bytes
        if not total or free is None:
            return None
        return (total - free) / total


def gpu_rows(user: Visitor) -> list[GpuRow]:
    """Every GPU of this host with its claim, if any, and whether `user` may see its holder."""
    claims = {(claim.host, claim.gpu_index): claim for claim in GpuClaim.objects.on_this_host()}
    seen = visible_holders(user, claims.values())
    rows = []
    for gpu in list_gpus():
        claim = claims.get(gpu.key)
        visible = claim is not None and (claim.holder_kind, claim.holder_id) in seen
        rows.append(GpuRow(gpu=gpu, claim=claim, holder_visible=visible))
    return rows
