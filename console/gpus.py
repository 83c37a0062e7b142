"""Who holds which GPU: this host's inventory joined with the shared GPU ledger.

Everyone sees which GPUs are free or held; the run or deployment holding one is named
only to those who may see it (console.lookups), so the table reveals nobody's work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from console.lookups import visible_deployments, visible_runs
from gpus.inventory import Gpu, list_gpus
from gpus.models import GpuClaim, HolderKind
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


def visible_holders(user: Visitor, claims: Iterable[GpuClaim]) -> set[tuple[str, str]]:
    """(kind, id) of the claims' holders that `user` sees."""
    ids: dict[str, list[str]] = {HolderKind.RUN: [], HolderKind.DEPLOYMENT: []}
    for claim in claims:
        ids.setdefault(claim.holder_kind, []).append(claim.holder_id)
    seen: set[tuple[str, str]] = set()
    for kind, holders in ((HolderKind.RUN, visible_runs(user)), (HolderKind.DEPLOYMENT, visible_deployments(user))):
        if ids[kind]:
            seen |= {(kind, str(pk)) for pk in holders.filter(pk__in=ids[kind]).values_list("pk", flat=True)}
    return seen


def gpu_rows(user: Visitor) -> list[GpuRow]:
    """Every GPU of this host with its claim, if any, and whether `user` may see its holder."""
    claims = {claim.gpu_index: claim for claim in GpuClaim.objects.all()}
    seen = visible_holders(user, claims.values())
    rows = []
    for gpu in list_gpus():
        claim = claims.get(gpu.index)
        visible = claim is not None and (claim.holder_kind, claim.holder_id) in seen
        rows.append(GpuRow(gpu=gpu, claim=claim, holder_visible=visible))
    return rows
