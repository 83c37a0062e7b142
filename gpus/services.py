"""Claiming and releasing GPUs. Runs and deployments both go through here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence

from django.db import IntegrityError, transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from gpus.inventory import Gpu, list_gpus
from gpus.models import GpuClaim
from llmplatform.errors import ConflictingState, InvalidInput
from llmplatform.sentences import Text, gettext_noop


class GpusUnavailable(ConflictingState):
    """Not enough free GPUs; `str()` says why in a sentence fit for a user."""


class GpuHeld(GpusUnavailable):
    """The GPU asked for is held. `str()` says so without naming the holder, which not
    everybody may see; `claim` is the holder's claim, for callers that know who may."""

    def __init__(self, detail: Text, *, claim: GpuClaim) -> None:
        super().__init__(detail)
        self.claim = claim


class UnknownGpuType(InvalidInput):
    """No GPU of the host is of the type asked for; `str()` names the types there are."""


class TooFewGpus(InvalidInput):
    """The host has fewer GPUs (of the type asked for) than a request; `str()` names those it has."""


def free_gpus(inventory: Sequence[Gpu] | None = None) -> list[Gpu]:
    gpus = list(inventory if inventory is not None else list_gpus())
    held = set(GpuClaim.objects.filter(host__in={gpu.host for gpu in gpus}).values_list("host", "gpu_index"))
    return [gpu for gpu in gpus if gpu.key not in held]


def most_free_memory_first(gpus: Iterable[Gpu]) -> list[Gpu]:
    """The order GPUs are handed out in: most free memory first (NVML), else as listed."""
    return sorted(gpus, key=lambda gpu: -(gpu.memory_free_bytes or 0))


def describe_models(inventory: Sequence[Gpu]) -> str:
    """The host's GPU models for a sentence: "2 × NVIDIA A100-SXM4-80GB, 1 × NVIDIA L4"."""
    if not inventory:
        return gettext_noop("none (NVML finds no GPU and GPU_IDS is empty)")
    counts = Counter(gpu.name or "unnamed" for gpu in inventory)
    hint = gettext_noop(" (GPU_IDS names them as index:name)") if "unnamed" in counts else ""
    return ", ".join(f"{count} × {name}" for name, count in counts.items()) + hint


def require_gpu_type(*, gpu_type: str) -> None:
    """Raise UnknownGpuType unless some GPU of the host is of `gpu_type` (a run asking for
    it would otherwise wait forever)."""
    require_gpus(count=0, gpu_type=gpu_type)


def gpu_shortfall(*, count: int, gpu_type: str = "", inventory: Sequence[Gpu]) -> str:
    """Why `count` GPUs of `gpu_type` ("": any) can never be held at once on a host with
    `inventory`, in a sentence naming its GPUs; "" when they can."""
    matching = sum(1 for gpu in inventory if gpu.has_type(gpu_type))
    if gpu_type and not matching:
        return gettext_noop("No GPU here is of type {gpu_type!r}; the GPUs here are {models}.").format(
            gpu_type=gpu_type, models=describe_models(inventory)
        )
    if count <= matching:
        return ""
    if gpu_type:
        fewer = gettext_noop(
            "This host has {matching} GPU(s) of type {gpu_type!r}, fewer than the {count} asked for; "
            "the GPUs here are {models}."
        )
    else:
        fewer = gettext_noop(
            "This host has {matching} GPU(s), fewer than the {count} asked for; the GPUs here are {models}."
        )
    return fewer.format(matching=matching, gpu_type=gpu_type, count=count, models=describe_models(inventory))


def require_gpus(*, count: int, gpu_type: str = "") -> None:
    """Raise UnknownGpuType when no GPU of this host is of `gpu_type`, TooFewGpus when it has
    fewer than `count` of them (`max_gpu_count` says how many): such a request would wait forever."""
    inventory = list_gpus()
    if not (shortfall := gpu_shortfall(count=count, gpu_type=gpu_type, inventory=inventory)):
        return
    matching = sum(1 for gpu in inventory if gpu.has_type(gpu_type))
    if gpu_type and not matching:
        raise UnknownGpuType(shortfall)
    raise TooFewGpus(shortfall, max_gpu_count=matching)


def waiting_for(*, count: int, gpu_type: str, free: int, candidates: int) -> str:
    """The queue reason of a request for `count` GPUs while `free` of the `candidates` it may use are free."""
    if gpu_type:
        reason = gettext_noop("waiting for {count} {gpu_type} GPU(s), {free} free of {candidates}")
    else:
        reason = gettext_noop("waiting for {count} GPU(s), {free} free of {candidates}")
    return reason.format(count=count, gpu_type=gpu_type, free=free, candidates=candidates)


def claim_gpus(
    *,
    holder_kind: str,
    holder_id: object,
    holder_label: str = "",
    count: int = 1,
    gpu_type: str = "",
    excluding: Collection[int] = (),
    preferred: int | None = None,
) -> list[int]:
    """Claim `count` GPUs of `gpu_type` ("": any), none of `excluding`, or exactly `preferred`,
    for a holder; all or nothing.

    Free GPUs with the most free memory go first; one a concurrent claim took a moment
    ago is passed over for the next. Raises GpusUnavailable when the preferred GPU is
    unknown or too few are free, GpuHeld when the preferred GPU is held.
    """
    inventory = list_gpus()
    known = {gpu.index: gpu for gpu in inventory}
    if preferred is not None:
        if preferred not in known:
            raise GpusUnavailable(
                format_lazy(
                    _("GPU {preferred} does not exist on this host (GPUs: {choices})."),
                    preferred=preferred,
                    choices=sorted(known),
                )
            )
        gpu = known[preferred]
        holder = GpuClaim.objects.filter(host=gpu.host, gpu_index=gpu.index).first()
        if holder:
            raise GpuHeld(
                format_lazy(
                    _("GPU {preferred} is held by another {kind}."), preferred=preferred, kind=holder.holder_kind
                ),
                claim=holder,
            )
        if _claim([gpu], holder_kind=holder_kind, holder_id=holder_id, holder_label=holder_label):
            return [preferred]
        raise GpusUnavailable(
            format_lazy(_("GPU {preferred} was claimed by someone else a moment ago; try again."), preferred=preferred)
        )
    candidates = [gpu for gpu in inventory if gpu.has_type(gpu_type) and gpu.index not in excluding]
    # Each lost race leaves at least one more GPU held, so this ends within len(candidates) tries.
    for _attempt in range(len(candidates) + 1):
        free = most_free_memory_first(free_gpus(candidates))
        if len(free) < count:
            raise GpusUnavailable(
                waiting_for(count=count, gpu_type=gpu_type, free=len(free), candidates=len(candidates))
            )
        chosen = free[:count]
        if _claim(chosen, holder_kind=holder_kind, holder_id=holder_id, holder_label=holder_label):
            return [gpu.index for gpu in chosen]
    raise GpusUnavailable(_("the free GPUs were claimed by someone else a moment ago; try again."))


def _claim(gpus: list[Gpu], *, holder_kind: str, holder_id: object, holder_label: str) -> bool:
    """Write the claims of `gpus`, all or none; False when one of them is held already."""
    return claim_listed(
        GpuClaim(
            host=gpu.host,
            gpu_index=gpu.index,
            holder_kind=holder_kind,
            holder_id=str(holder_id),
            holder_label=holder_label,
        )
        for gpu in gpus
    )


def claim_listed(claims: Iterable[GpuClaim]) -> bool:
    """Write `claims` (new rows, of any holders) in one INSERT, all or none; False when one of their
    GPUs is held already. For a caller that chose free GPUs itself, as dispatch does for several runs."""
    try:
        with transaction.atomic():
            GpuClaim.objects.bulk_create(claims)
    except IntegrityError:
        return False
    return True


def release_gpus(*, holder_kind: str, holder_id: object) -> int:
    """Give back every GPU the holder holds, on whichever host (a run watched by another host's loop ends there)."""
    deleted, _ = GpuClaim.objects.held_by(holder_kind, holder_id).delete()
    return deleted
