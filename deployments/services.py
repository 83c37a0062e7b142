"""Deployment workflows: create (allocate, spawn), stop (verified), supervise (probe, fail).

Views, admin actions, the supervisor command and the django-q2 task all call these;
none of them signals a process or touches the GPU ledger by itself.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction
from audit.services import record_event, signed_in
from deployments import allocation, probes, sources
from deployments.logs import last_lines
from deployments.models import LIVE_STATUSES, Deployment, DeploymentStatus, DeploymentTag
from deployments.vllm import build_argv, check_extra_args, check_installed, check_staff_allowed, quoted
from gpus.models import HolderKind
from gpus.services import release_gpus
from llmplatform import processes, supervision
from llmplatform.errors import ConflictingState, InvalidInput, NotPermitted
from llmplatform.sentences import gettext_noop
from llmplatform.users import Actor, Visitor
from notifications.models import EventName
from notifications.services import notify
from projects.models import Project

logger = logging.getLogger(__name__)

# A process that never got a pid recorded (the web server died mid-request) is given up after this.
SPAWN_DEADLINE = timedelta(seconds=60)
# Leftover children of a server that exited by itself get this long after SIGTERM.
LEFTOVER_GRACE_SECONDS = 2.0
FAILED_LOG_LINES = 20
MAX_TAG_LENGTH = 64  # DeploymentTag.value and Deployment.model_version


def create_deployment(
    *,
    actor: Visitor,
    model_path: str | None = None,
    artifact_id: uuid.UUID | None = None,
    served_model_name: str = "",
    model_version: str = "",
    tags: Sequence[str] = (),
    extra_args: str = "",
    preferred_gpu: int | None = None,
    gpu_type: str = "",
    health_path: str = "/health",
    allowed_extra_flags: Sequence[str] = (),
    project: Project | None = None,
) -> Deployment:
    """Check the request, claim a GPU and a port, start the server; a DomainError when it cannot.

    `extra_args` may hold the vLLM options of deployments.vllm_policy, and those
    of `allowed_extra_flags`, which only staff may give. Returns the deployment in
    `starting` (or `failed` if its process could not even be started). Nothing is
    left behind when a check or an allocation fails. It is owned by `actor` and
    shared with `project`: by default, a run's artifact is served for the team of
    the run's project.
    """
    reason = probes.check_health_path(health_path) or _check_labels(tags=tags, model_version=model_version)
    if reason:
        raise InvalidInput(reason)
    if allowed_extra_flags and not actor.is_staff:
        raise NotPermitted(_("Only staff may allow vLLM options beyond the platform's policy."))
    staff_allowed = check_staff_allowed(allowed_extra_flags)
    if model_path and artifact_id:
        raise InvalidInput(_("Give either model_path or artifact_id, not both."))
    if artifact_id:
        source = sources.from_artifact(artifact_id, user=actor, served_model_name=served_model_name)
    elif model_path:
        source = sources.from_models_dir(model_path, served_model_name=served_model_name)
    else:
        raise InvalidInput(
            _("model_path is required (or artifact_id, to deploy a run's artifact)."), missing=["model_path"]
        )
    extra_argv = check_extra_args(extra_args, folders=source.folders(), staff_allowed=staff_allowed)
    check_installed()

    with transaction.atomic():
        deployment = Deployment.objects.create(
            created_by=signed_in(actor),
            project=project or (source.artifact.run.project if source.artifact else None),
            model_path=source.model_path,
            artifact=source.artifact,
            served_model_name=source.served_model_name,
            model_version=model_version,
            extra_args=extra_args,
            allowed_extra_flags=staff_allowed,
            health_path=health_path,
            host=settings.HOSTNAME,
        )
        DeploymentTag.objects.bulk_create(
            DeploymentTag(deployment=deployment, value=tag) for tag in dict.fromkeys(tags)
        )
        gpu_id = allocation.claim_gpu(deployment, preferred=preferred_gpu, gpu_type=gpu_type.strip(), actor=actor)
        port = allocation.reserve_port(deployment)
        deployment.gpu_id = gpu_id
        deployment.argv = build_argv(
            model_path=str(source.serve_path),
            port=port,
            served_model_name=source.base_model_name,
            gpu_id=gpu_id,
            extra_args=extra_argv,
            lora=source.lora,
        )
        deployment.log_file = str(Path(settings.DEPLOY_LOG_DIR) / f"{deployment.pk}.log")
        deployment.save(update_fields=["gpu_id", "argv", "log_file", "updated_at"])

    _spawn(deployment, gpu_id=gpu_id)
    transaction.on_commit(partial(supervision.wake, "deployments"))
    record_event(
        actor=actor,
        action=AuditAction.CREATE,
        target=deployment,
        changes={
            "model_path": deployment.model_path,
            "gpu_id": deployment.gpu_id,
            "port": deployment.port,
            "vllm_cmd": quoted(deployment.argv),
            "status": deployment.status,
            "allowed_extra_flags": staff_allowed,
        },
    )
    return deployment


def _check_labels(*, tags: Sequence[str], model_version: str) -> str | None:
    """Why the tags or version cannot be stored (None when they can); the console calls without a serializer."""
    for tag in tags:
        if not 1 <= len(tag) <= MAX_TAG_LENGTH or not tag.isprintable():
            return gettext_noop("Tag {tag!r} must be 1 to {limit} printable characters.").format(
                tag=tag[:80], limit=MAX_TAG_LENGTH
            )
    if len(model_version) > MAX_TAG_LENGTH or not model_version.isprintable():
        return gettext_noop("model_version must be at most {limit} printable characters.").format(limit=MAX_TAG_LENGTH)
    return None


def _server_environment(gpu_id: int) -> dict[str, str]:
    # NVML numbers GPUs by PCI bus; CUDA, by default, fastest first. Make CUDA count like NVML
    # so that the index claimed in the ledger is the GPU the server really uses.
    return processes.inherited_environment({"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": str(gpu_id)})


def _spawn(deployment: Deployment, *, gpu_id: int) -> None:
    try:
        identity = processes.spawn(
            deployment.argv,
            cwd=Path(settings.DEPLOY_LOG_DIR),
            env=_server_environment(gpu_id),
            log_path=Path(deployment.log_file),
            exit_code_path=Path(deployment.exit_code_file),
        )
    except OSError as exc:
        _finish(
            deployment,
            DeploymentStatus.FAILED,
            detail=gettext_noop("The server could not be started: {exc}.").format(exc=exc),
        )
        return
    now = timezone.now()
    Deployment.objects.filter(pk=deployment.pk).update(
        pid=identity.pid, process_start_time=identity.start_time, started_at=now, updated_at=now
    )
    deployment.pid, deployment.process_start_time, deployment.started_at = identity.pid, identity.start_time, now


def _own_group(deployment: Deployment) -> int | None:
    """The deployment's process group id, if signalling it can only reach its own processes.

    The group leader (our wrapper) may be gone while its children live on; the
    kernel never reuses a pid that still names a process group, so the group is
    ours unless a *different* process now has the leader's pid.
    """
    identity = deployment.process
    if identity is None:
        return None
    current = processes.identify(identity.pid)
    if current is not None and current.start_time != identity.start_time:
        return None  # the pid was recycled: our group is long gone
    return identity.pid


def _finish(deployment: Deployment, status: str, *, detail: str, exit_code: int | None = None) -> bool:
    """Move a live deployment to an ended status and give back its GPU; its port frees with it."""
    fields = {"health_ok": False, "status_detail": detail, "stopped_at": timezone.now()}
    if exit_code is not None:
        fields["exit_code"] = exit_code
    if status == DeploymentStatus.FAILED and deployment.log_file:
        fields["last_log_lines"] = "\n".join(last_lines(Path(deployment.log_file), FAILED_LOG_LINES))
    # A server that exits because someone is stopping it has not failed: the stopper finishes it.
    where = Q(stop_requested_at=None) if status == DeploymentStatus.FAILED else None
    changed = deployment.transition(LIVE_STATUSES, status, where=where, **fields)
    if changed:
        release_gpus(holder_kind=HolderKind.DEPLOYMENT, holder_id=deployment.pk)
    return changed


def stop_deployment(deployment: Deployment, *, actor: Actor, force: bool = False) -> Deployment:
    """SIGTERM the server's whole process group, wait, SIGKILL it if `force`; verify it is gone.

    Only then are its GPU and port released and the deployment marked `stopped`.
    ConflictingState when it has already ended, or when processes survive.
    """
    now = timezone.now()
    if not Deployment.objects.filter(pk=deployment.pk, status__in=LIVE_STATUSES).update(stop_requested_at=now):
        deployment.refresh_from_db()
        raise ConflictingState(
            format_lazy(
                _("Deployment {deployment} has already ended (status {status})."),
                deployment=deployment.pk,
                status=deployment.status,
            )
        )
    old_status = deployment.status
    pgid = _own_group(deployment)
    if pgid is not None and not processes.terminate_group(pgid, grace=settings.DEPLOY_STOP_GRACE_SECONDS, force=force):
        Deployment.objects.filter(pk=deployment.pk).update(stop_requested_at=None)
        survivors = processes.group_members(pgid)
        if not force:
            raise ConflictingState(
                format_lazy(
                    _(
                        "Deployment {deployment} did not exit within {grace:g} s of "
                        "SIGTERM (pids {survivors} still run); it keeps its GPU. Retry with ?force=true "
                        "to SIGKILL it."
                    ),
                    deployment=deployment.pk,
                    grace=settings.DEPLOY_STOP_GRACE_SECONDS,
                    survivors=survivors,
                )
            )
        raise ConflictingState(
            format_lazy(
                _("Processes {survivors} of deployment {deployment} survived SIGKILL; it keeps its GPU."),
                survivors=survivors,
                deployment=deployment.pk,
            )
        )
    exit_code = deployment.read_exit_code()
    user = signed_in(actor)
    who = user.get_username() if user else gettext_noop("the platform")
    _finish(
        deployment,
        DeploymentStatus.STOPPED,
        detail=gettext_noop("Stopped by {who}.").format(who=who),
        exit_code=exit_code,
    )
    record_event(
        actor=actor,
        action=AuditAction.ACTION,
        verb="stop",
        target=deployment,
        changes={"status": [old_status, DeploymentStatus.STOPPED], "force": force},
    )
    deployment.refresh_from_db()
    return deployment


def supervise(deployment: Deployment) -> None:
    """One supervision step: notice an exited server, else probe it and update its health."""
    now = timezone.now()
    if deployment.stop_requested_at is not None:
        if deployment.stop_is_stale(now):
            # Whoever asked for the stop died before finishing it; finish it for them.
            stop_deployment(deployment, actor=None, force=True)
        return
    identity = deployment.process
    if identity is None:
        if now - deployment.created_at > SPAWN_DEADLINE:
            _fail(deployment, gettext_noop("The server was never started (the platform stopped while starting it)."))
        return
    if not processes.is_running(identity):
        _fail_exited(deployment)
        return
    _record_probe(deployment, now)


def _fail(deployment: Deployment, detail: str, exit_code: int | None = None) -> None:
    old_status = deployment.status
    if _finish(deployment, DeploymentStatus.FAILED, detail=detail, exit_code=exit_code):
        record_event(
            actor=None,
            action=AuditAction.ACTION,
            verb="fail",
            target=deployment,
            changes={"status": [old_status, DeploymentStatus.FAILED], "detail": detail},
        )


def _fail_exited(deployment: Deployment) -> None:
    """The server exited by itself: its children may live on holding GPU memory; end them first."""
    pgid = _own_group(deployment)
    if pgid is not None and not processes.terminate_group(pgid, grace=LEFTOVER_GRACE_SECONDS, force=True):
        logger.error(
            "Leftover processes %s of deployment %s survive SIGKILL", processes.group_members(pgid), deployment.pk
        )
        return  # keep the GPU held: something still uses it
    exit_code = deployment.read_exit_code()
    _fail(
        deployment,
        gettext_noop("The server exited by itself with exit code {exit_code}.").format(exit_code=exit_code),
        exit_code=exit_code,
    )


def _record_probe(deployment: Deployment, now: datetime) -> None:
    assert deployment.port is not None  # reserved before its server was started
    result = probes.probe(
        port=deployment.port,
        health_path=deployment.health_path,
        served_model_name=deployment.served_model_name,
        timeout=settings.DEPLOY_PROBE_TIMEOUT_SECONDS,
    )
    status = deployment.status
    if result.ok:
        if status != DeploymentStatus.RUNNING:
            deployment.transition(
                status,
                DeploymentStatus.RUNNING,
                health_ok=True,
                failed_probes=0,
                last_probe_at=now,
                last_probe_seconds=result.seconds,
                ready_at=deployment.ready_at or now,
                status_detail="",
            )
        else:
            Deployment.objects.filter(pk=deployment.pk, status=status).update(
                health_ok=True, failed_probes=0, last_probe_at=now, last_probe_seconds=result.seconds, status_detail=""
            )
        return
    if status == DeploymentStatus.STARTING:
        loading_for = now - (deployment.started_at or deployment.created_at)
        if loading_for.total_seconds() > settings.DEPLOY_STARTUP_TIMEOUT_SECONDS:
            if deployment.transition(
                status,
                DeploymentStatus.UNHEALTHY,
                health_ok=False,
                last_probe_at=now,
                last_probe_seconds=result.seconds,
                status_detail=gettext_noop("Not ready after {seconds:g} s: {detail}").format(
                    seconds=settings.DEPLOY_STARTUP_TIMEOUT_SECONDS, detail=result.detail
                ),
            ):
                _announce_unhealthy(deployment)
        else:
            Deployment.objects.filter(pk=deployment.pk, status=status).update(
                health_ok=False, last_probe_at=now, last_probe_seconds=result.seconds, status_detail=result.detail
            )
        return
    failed = deployment.failed_probes + 1
    fields: dict[str, Any] = {
        "health_ok": False,
        "failed_probes": failed,
        "last_probe_at": now,
        "last_probe_seconds": result.seconds,
        "status_detail": result.detail,
    }
    if status == DeploymentStatus.RUNNING and failed >= settings.DEPLOY_UNHEALTHY_AFTER_FAILED_PROBES:
        if deployment.transition(status, DeploymentStatus.UNHEALTHY, **fields):
            _announce_unhealthy(deployment)
    else:
        Deployment.objects.filter(pk=deployment.pk, status=status).update(**fields)


def _announce_unhealthy(deployment: Deployment) -> None:
    """Tell the webhooks of the project the deployment is shared with (one shared with none has no audience)."""
    if deployment.project_id is None:
        return
    notify(
        project_id=deployment.project_id,
        event=EventName.DEPLOYMENT_UNHEALTHY,
        summary=f"deployment {deployment} is unhealthy: {deployment.status_detail}",
        data={
            "deployment_id": str(deployment.pk),
            "model": deployment.served_model_name,
            "host": deployment.host,
            "gpu": deployment.gpu_id,
            "failed_probes": deployment.failed_probes,
            "detail": deployment.status_detail,
        },
    )
