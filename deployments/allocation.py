"""A GPU and a port for a new deployment, race-free.

GPUs come from the ledger shared with training runs (`gpus.services`): its unique
row per GPU decides between two concurrent claims. Ports come from
DEPLOY_PORT_RANGE: a port is taken when a live deployment holds it in the database
(a partial unique constraint decides races) or when binding it fails. Binding
matters because vLLM listens with SO_REUSEPORT, so a second server on the same port
would start without an error and share its traffic.
"""

from __future__ import annotations

import socket

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from deployments.holders import holder_names
from deployments.models import Deployment
from gpus.inventory import list_gpus
from gpus.models import GpuClaim, HolderKind
from gpus.services import GpuHeld, GpusUnavailable, claim_gpus, require_gpu_type
from llmplatform.errors import ConflictingState, InvalidInput
from llmplatform.users import Actor


def port_range() -> range:
    text = settings.DEPLOY_PORT_RANGE
    try:
        low, high = (int(part) for part in text.split("-", 1))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DEPLOY_PORT_RANGE must look like 8200-8299, got {text!r}.") from exc
    if not 1024 <= low <= high <= 65535:
        raise ImproperlyConfigured(f"DEPLOY_PORT_RANGE {text!r} must lie within 1024-65535, low to high.")
    return range(low, high + 1)


def port_is_bindable(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:`port` (not even with SO_REUSEPORT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR lets a port in TIME_WAIT count as free (the server will
        # set it too); it never lets us bind beside a listening socket.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def claim_gpu(deployment: Deployment, *, preferred: int | None, gpu_type: str = "", actor: Actor) -> int:
    """Claim `preferred`, or the free GPU of `gpu_type` ("": any) with the most free
    memory, in the shared ledger. A refusal names the holders `actor` may see."""
    inventory = list_gpus()
    known = sorted(gpu.index for gpu in inventory)
    if not known:
        raise ConflictingState(_("This host has no GPUs to deploy on (NVML finds none and GPU_IDS is empty)."))
    if gpu_type:
        require_gpu_type(gpu_type=gpu_type)
    if preferred is not None:
        if preferred not in known:
            raise InvalidInput(
                format_lazy(
                    _("preferred_gpu {preferred} does not exist on this host; its GPUs are {known}."),
                    preferred=preferred,
                    known=known,
                )
            )
        chosen = next(gpu for gpu in inventory if gpu.index == preferred)
        if not chosen.has_type(gpu_type):
            raise InvalidInput(
                format_lazy(
                    _("preferred_gpu {preferred} is a {gpu_name}, not {gpu_type!r}."),
                    preferred=preferred,
                    gpu_name=chosen.name or "GPU of no known model",
                    gpu_type=gpu_type,
                )
            )
    try:
        return claim_gpus(
            holder_kind=HolderKind.DEPLOYMENT,
            holder_id=deployment.pk,
            holder_label=str(deployment),
            gpu_type=gpu_type,
            preferred=preferred,
        )[0]
    except GpuHeld as held:
        name = holder_names(actor, [held.claim])[held.claim.gpu_index]
        raise ConflictingState(
            format_lazy(_("GPU {preferred} is held by {name}."), preferred=preferred, name=name)
        ) from None
    except GpusUnavailable:
        if preferred is not None:
            raise
    held_here = holder_names(actor, GpuClaim.objects.on_this_host())
    holders = "; ".join(f"GPU {index} → {name}" for index, name in held_here.items())
    if gpu_type:
        none_free = _("No {gpu_type} GPU is free on this host ({count} in all): {holders}.")
    else:
        none_free = _("No GPU is free on this host ({count} in all): {holders}.")
    raise ConflictingState(
        format_lazy(none_free, gpu_type=gpu_type, count=len(known), holders=holders or _("all are busy"))
    )


def reserve_port(deployment: Deployment) -> int:
    """Store a free port from the range on `deployment`; ConflictingState when none is left."""
    taken = set(Deployment.objects.live().on_this_host().exclude(port=None).values_list("port", flat=True))
    for port in port_range():
        if port in taken or not port_is_bindable(port):
            continue
        try:
            with transaction.atomic():
                Deployment.objects.filter(pk=deployment.pk).update(port=port)
        except IntegrityError:
            continue  # a concurrent request reserved it first
        deployment.port = port
        return port
    raise ConflictingState(
        format_lazy(_("No free port is left in DEPLOY_PORT_RANGE {port_range}."), port_range=settings.DEPLOY_PORT_RANGE)
    )
