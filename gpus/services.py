"""Claiming and releasing GPUs. Runs and deployments both go through here."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction

from gpus.inventory import Gpu, list_gpus
from gpus.models import GpuClaim


class GpusUnavailable(Exception):
    """Not enough free GPUs; `str()` says why in a sentence fit for a user."""


def free_gpus(inventory: Sequence[Gpu] | None = None) -> list[Gpu]:
    gpus = list(inventory if inventory is not None else list_gpus())
    held = set(GpuClaim.objects.values_list("gpu_index", flat=True))
    return [gpu for gpu in gpus if gpu.index not in held]


def claim_gpus(
    *,
    holder_kind: str,
    holder_id: object,
    holder_label: str = "",
    count: int = 1,
    preferred: int | None = None,
) -> list[int]:
    """Claim `count` GPUs (or exactly `preferred`) for a holder; all or nothing.

    Free GPUs with the most free memory go first. Raises GpusUnavailable when the
    preferred GPU is unknown or held (naming the holder), or too few are free.
    """
    inventory = list_gpus()
    known = {gpu.index for gpu in inventory}
    if preferred is not None:
        if preferred not in known:
            raise GpusUnavailable(f"GPU {preferred} does not exist on this host (GPUs: {sorted(known)}).")
        holder = GpuClaim.objects.filter(gpu_index=preferred).first()
        if holder:
            raise GpusUnavailable(
                f"GPU {preferred} is held by {holder.holder_kind} {holder.holder_label or holder.holder_id}."
            )
        chosen = [preferred]
    else:
        free = sorted(free_gpus(inventory), key=lambda gpu: -(gpu.memory_free_bytes or 0))
        if len(free) < count:
            raise GpusUnavailable(f"waiting for {count} GPU(s), {len(free)} free of {len(inventory)}")
        chosen = [gpu.index for gpu in free[:count]]
    try:
        with transaction.atomic():
            GpuClaim.objects.bulk_create(
                GpuClaim(gpu_index=index, holder_kind=holder_kind, holder_id=str(holder_id), holder_label=holder_label)
                for index in chosen
            )
    except IntegrityError as exc:
        raise GpusUnavailable(f"GPU(s) {chosen} were claimed by someone else a moment ago; try again.") from exc
    return chosen


def release_gpus(*, holder_kind: str, holder_id: object) -> int:
    deleted, _ = GpuClaim.objects.held_by(holder_kind, holder_id).delete()
    return deleted
