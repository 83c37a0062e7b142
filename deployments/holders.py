"""Who holds a GPU, told only to those who may see the holder.

The GPU ledger (gpus) keeps each claim's holder: a run or a deployment, its id and its
label. A run is seen by the people of its project, a deployment by its owner, the team
of the project it is shared with, and staff (projects.sharing); anybody else learns only
that a GPU is held, and by which kind of work, so no message or page reveals others' work.
"""

from __future__ import annotations

from collections.abc import Iterable

from deployments.models import Deployment
from gpus.models import GpuClaim, HolderKind
from llmplatform.users import Actor, Visitor
from projects.models import Project
from runs.models import Run


def visible_holders(user: Visitor, claims: Iterable[GpuClaim]) -> set[tuple[str, str]]:
    """(kind, id) of the claims' holders that `user` sees."""
    ids: dict[str, list[str]] = {HolderKind.RUN: [], HolderKind.DEPLOYMENT: []}
    for claim in claims:
        ids.setdefault(claim.holder_kind, []).append(claim.holder_id)
    runs = Run.objects.filter(project__in=Project.objects.visible_to(user))
    seen: set[tuple[str, str]] = set()
    for kind, holders in ((HolderKind.RUN, runs), (HolderKind.DEPLOYMENT, Deployment.objects.visible_to(user))):
        if ids[kind]:
            seen |= {(kind, str(pk)) for pk in holders.filter(pk__in=ids[kind]).values_list("pk", flat=True)}
    return seen


def holder_names(actor: Actor, claims: Iterable[GpuClaim]) -> dict[int, str]:
    """Each claim's holder by GPU index, as `actor` may read it: "run finetune-7" for a
    holder they see, "another run" for one they do not. The platform itself (None) sees all."""
    claims = list(claims)
    seen = None if actor is None else visible_holders(actor, claims)
    return {
        claim.gpu_index: f"{claim.holder_kind} {claim.holder_label or claim.holder_id}"
        if seen is None or (claim.holder_kind, claim.holder_id) in seen
        else f"another {claim.holder_kind}"
        for claim in claims
    }
