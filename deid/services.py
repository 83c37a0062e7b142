"""De-identification workflows: policies and their versions, scrubbing texts.

Audit events name the policy, the version and counts per entity type, never a piece
of the personal data itself.
"""

from __future__ import annotations

import copy
import logging
import secrets
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction
from audit.services import record_event, signed_in
from datasets import services as dataset_services
from datasets.models import PARTIAL_FOLDER, Dataset, DatasetFile
from deid.engine import Deidentifier, PolicyConfig, Replacement
from deid.entities import DEFAULT_LOCALE
from deid.models import DEFAULT_POLICY_NAME, MAX_SEED, DeidJob, DeidJobStatus, DeidPolicy, DeidPolicyVersion
from deid.transform import MAX_REPORTED_ERRORS, FileReport, deidentify_file
from llmplatform.errors import ConflictingState, NotPermitted, TooLarge
from llmplatform.users import Actor

logger = logging.getLogger(__name__)


# Who may see the original personal data beside its pseudonyms (deid.models.DeidPolicy's permission).
PII_MAPPING_PERMISSION = "deid.view_pii_mapping"


class TextFormat:
    TEXT = "text"  # each item is plain text
    JSON = "json"  # each item is a JSON document: its string values are scrubbed, keys kept


class PolicyInUse(ConflictingState):
    """The policy cannot be deleted (the default one)."""


class NothingToDeidentify(ConflictingState):
    """The dataset has no stored file."""


def version_label(number: int) -> str:
    return f"{timezone.now():%Y-%m-%d}.{number}"


def _add_version(*, policy: DeidPolicy, config: PolicyConfig, actor: Actor, label: str = "") -> DeidPolicyVersion:
    last = policy.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = DeidPolicyVersion.objects.create(
        policy=policy,
        number=last + 1,
        label=label or version_label(last + 1),
        config=config.to_dict(),
        created_by=signed_in(actor),
    )
    policy.current_version = version
    policy.save(update_fields=["current_version", "updated_at"])
    return version


@transaction.atomic
def create_policy(*, name: str, config: PolicyConfig, description: str = "", actor: Actor) -> DeidPolicy:
    policy = DeidPolicy.objects.create(
        name=name,
        description=description,
        created_by=signed_in(actor),
    )
    version = _add_version(policy=policy, config=config, actor=actor)
    record_event(
        actor=actor, action=AuditAction.CREATE, target=policy, changes={"version": version.label, **config.to_dict()}
    )
    return policy


@transaction.atomic
def update_policy(
    *, policy: DeidPolicy, actor: Actor, config: PolicyConfig | None = None, description: str | None = None
) -> DeidPolicy:
    """Change a policy: new rules become a new version; the old versions stay as they were."""
    policy = DeidPolicy.objects.select_for_update(of=("self",)).select_related("current_version").get(pk=policy.pk)
    changes: dict = {}
    if description is not None and description != policy.description:
        changes["description"] = [policy.description, description]
        policy.description = description
        policy.save(update_fields=["description", "updated_at"])
    old_config = policy.current_version.config if policy.current_version else None
    if config is not None and config.to_dict() != old_config:
        version = _add_version(policy=policy, config=config, actor=actor)
        changes["config"] = [old_config, config.to_dict()]
        changes["version"] = version.label
    if changes:
        record_event(actor=actor, action=AuditAction.UPDATE, target=policy, changes=changes)
    return policy


@transaction.atomic
def delete_policy(*, policy: DeidPolicy, actor: Actor) -> None:
    if policy.name == DEFAULT_POLICY_NAME:
        raise PolicyInUse(_("The default policy cannot be deleted; edit it instead."))
    record_event(actor=actor, action=AuditAction.DELETE, target=policy)
    policy.delete()


def may_reveal_mapping(user: Actor) -> bool:
    """Whether `user` may see what links pseudonyms to personal data: the originals of a
    mapping, and a job's seed (with it, a guessed original can be checked against a pseudonym)."""
    return user is not None and user.has_perm(PII_MAPPING_PERMISSION)


def check_may_reveal_mapping(user: Actor) -> None:
    """Refused outright rather than silently left out, so the person knows why they got no originals."""
    if not may_reveal_mapping(user):
        raise NotPermitted(
            _("return_mapping shows the original personal data; it needs the deid.view_pii_mapping permission.")
        )


def check_text_count(count: int) -> None:
    if count > settings.DEID_MAX_TEXTS:
        raise TooLarge(
            format_lazy(
                _("At most {limit} texts per request; got {count}."), limit=settings.DEID_MAX_TEXTS, count=count
            )
        )


def check_text_size(texts: Sequence[str]) -> None:
    """How much one call may scrub: DEID_MAX_TEXTS texts, DEID_MAX_REQUEST_BYTES bytes of UTF-8 in all."""
    check_text_count(len(texts))
    size = sum(len(text.encode("utf-8", "surrogatepass")) for text in texts)
    if size > settings.DEID_MAX_REQUEST_BYTES:
        raise TooLarge(
            format_lazy(
                _("At most {limit} bytes of text per request; got {size}."),
                limit=settings.DEID_MAX_REQUEST_BYTES,
                size=size,
            )
        )


@dataclass
class DeidOutcome:
    deidentified: list[str]
    replacements: list[list[Replacement]]  # per text
    policy_version: str
    counts: dict[str, int]


def deidentify_texts(
    *,
    policy: DeidPolicy,
    texts: list[str],
    seed: int = 0,
    text_format: str = TextFormat.TEXT,
    locale: str = DEFAULT_LOCALE,
    reveal_mapping: bool = False,
    actor: Actor,
) -> DeidOutcome:
    """Scrub `texts` with the policy's current version and the `locale`'s recognisers
    (`deid.entities.parse_locale`). JSON items must parse (callers validate them first).
    Revealing the mapping needs the PII permission and is audited: who saw personal data."""
    check_text_size(texts)
    if reveal_mapping:
        check_may_reveal_mapping(actor)
    deidentifier = policy.deidentifier(seed=seed, locale=locale)
    scrub = deidentifier.deidentify_json_text if text_format == TextFormat.JSON else deidentifier.deidentify
    results = [scrub(text) for text in texts]
    counts = dict(Counter(r.type for _, found in results for r in found))
    if reveal_mapping:
        record_event(
            actor=actor,
            action=AuditAction.ACTION,
            verb="reveal_mapping",
            target=policy,
            changes={"version": policy.current.label, "texts": len(texts), "entities": counts},
        )
    return DeidOutcome(
        deidentified=[text for text, _ in results],
        replacements=[found for _, found in results],
        policy_version=policy.current.label,
        counts=counts,
    )


# --- whole datasets -----------------------------------------------------------


def _source_files(dataset: Dataset) -> list[DatasetFile]:
    return list(dataset.files.stored().order_by("created_at", "id"))


def random_seed() -> int:
    """A seed nobody can guess: what a job gets when none is asked for."""
    return secrets.randbelow(MAX_SEED + 1)


COPY_SUFFIX = "-deid"


def copy_name(source_name: str) -> str:
    """`<source>-deid`, the source's name shortened as needed for it to stay a dataset name."""
    limit = min(Dataset._meta.get_field("name").max_length or 0, DeidJob._meta.get_field("target_name").max_length or 0)
    return source_name[: limit - len(COPY_SUFFIX)] + COPY_SUFFIX


@transaction.atomic
def start_dataset_deidentification(
    *, dataset: Dataset, policy: DeidPolicy, seed: int | None = None, name: str = "", actor: Actor
) -> DeidJob:
    """Queue a job that writes a scrubbed copy of every stored file of `dataset` into a
    new dataset derived from it, with the policy's current version.

    Only the dataset's owner and staff may: from now on the dataset counts as raw
    personal data, seen by them alone, while the copy is shared with the dataset's
    project. Without a `seed` the job draws a random one (a known seed lets anyone check
    a guessed original against a pseudonym with `deidentify:test`).
    """
    if not dataset.can_change(actor):
        raise NotPermitted(_("Only the dataset's owner or staff may de-identify it."))
    files = _source_files(dataset)
    if not files:
        raise NothingToDeidentify(
            format_lazy(_("Dataset {dataset_name!r} has no stored file to de-identify."), dataset_name=dataset.name)
        )
    Dataset.objects.filter(pk=dataset.pk).update(personal_data=True)
    dataset.personal_data = True
    job = DeidJob.objects.create(
        source=dataset,
        policy=policy,
        policy_version=policy.current_version,
        policy_name=policy.name,
        policy_version_label=policy.current.label,
        seed=random_seed() if seed is None else seed,
        target_name=name or copy_name(dataset.name),
        total_bytes=sum(f.bytes for f in files),
        created_by=signed_in(actor),
    )
    record_event(
        actor=actor,
        action=AuditAction.CREATE,
        target=job,
        changes={"source": str(dataset.pk), "policy": policy.name, "version": job.policy_version_label},
    )
    job_id = str(job.pk)
    transaction.on_commit(lambda: _enqueue(job_id))
    return job


def _enqueue(job_id: str) -> None:
    from django_q.tasks import async_task

    async_task("deid.tasks.run_deid_job", job_id, task_name=f"deid-{job_id}")


def run_deid_job(*, job_id: str) -> DeidJob:
    """Run a queued job to its end. The source files are only read; each scrubbed copy
    is written beside the datasets folder and published into the new dataset, where it
    is validated like any upload. Any failure ends the job as failed, with the reason,
    and removes the incomplete new dataset."""
    job = DeidJob.objects.select_related("source", "target", "policy", "policy_version").get(pk=job_id)
    started = job.transition(DeidJobStatus.QUEUED, DeidJobStatus.RUNNING, started_at=timezone.now())
    if not (started or _take_over_abandoned(job)):
        return job
    try:
        _scrub_dataset(job)
    except Exception as exc:
        # The exception's class only: a message could quote the data being scrubbed.
        logger.error("De-identification job %s failed: %s", job.pk, type(exc).__name__)
        if job.target is not None:  # no half-written copy for anybody to train on
            dataset_services.delete_dataset(dataset=job.target, actor=None)
            job.target = None
        job.transition(
            DeidJobStatus.RUNNING,
            DeidJobStatus.FAILED,
            finished_at=timezone.now(),
            detail=f"{type(exc).__name__}: {exc}",
        )
        record_event(
            actor=None, action=AuditAction.ACTION, verb="fail", target=job, changes={"error": type(exc).__name__}
        )
    return job


def _take_over_abandoned(job: DeidJob) -> bool:
    """django-q2 retries a task only after its timeout killed the first attempt; a job
    still `running` from before then was abandoned: start it again from scratch."""
    deadline = timezone.now() - timedelta(seconds=settings.Q_CLUSTER["timeout"])
    if job.status != DeidJobStatus.RUNNING or job.started_at is None or job.started_at > deadline:
        return False
    abandoned_target = job.target
    fresh: dict[str, Any] = {
        "started_at": timezone.now(),
        "target": None,
        "processed_bytes": 0,
        "lines": 0,
        "counts": {},
        "files": [],
        "errors": [],
        "error_count": 0,
    }
    if not DeidJob.objects.filter(pk=job.pk, status=DeidJobStatus.RUNNING, started_at=job.started_at).update(**fresh):
        return False
    if abandoned_target is not None:
        dataset_services.delete_dataset(dataset=abandoned_target, actor=None)
    for name, value in fresh.items():
        setattr(job, name, value)
    return True


def _scrub_dataset(job: DeidJob) -> None:
    if job.source is None or job.policy is None or job.policy_version is None:
        raise LookupError("The source dataset or the policy version was deleted before the job ran.")
    source = job.source
    deidentifier = job.policy.deidentifier(seed=job.seed, version=job.policy_version)
    # Free-form metadata can hold personal data too (an owner's phone...): scrubbed alike.
    metadata, _ = deidentifier.deidentify_json(copy.deepcopy(source.metadata))
    target = dataset_services.create_dataset(
        name=job.target_name,
        type=source.type,
        description=f"De-identified copy of {source.name} (policy {job.policy_name} {job.policy_version_label}).",
        task_type=source.task_type,
        metadata={
            **metadata,
            "deidentified": {
                "job": str(job.pk),
                "policy_id": job.policy_name,
                "policy_version": job.policy_version_label,
            },
        },
        created_by=job.created_by,
        parent=source,
        project=source.project,
    )
    DeidJob.objects.filter(pk=job.pk).update(target=target)
    job.target = target
    staging = dataset_services.staging_directory(PARTIAL_FOLDER)
    totals: Counter = Counter()
    done_bytes = 0
    for source_file in _source_files(source):
        report, new_file = _scrub_file(job, target, source_file, deidentifier, staging, done_bytes)
        done_bytes += report.bytes_read
        totals.update(report.counts)
        job.files.append(
            {
                "name": source_file.name,
                "source_upload_id": str(source_file.pk),
                "upload_id": str(new_file.pk),
                "lines": report.lines,
                "counts": report.counts,
                "error_count": report.error_count,
            }
        )
        room = MAX_REPORTED_ERRORS - len(job.errors)
        job.errors += [{"file": source_file.name, **error} for error in report.errors[:room]]
        job.error_count += report.error_count
        job.lines += report.lines
        DeidJob.objects.filter(pk=job.pk).update(
            files=job.files, errors=job.errors, error_count=job.error_count, lines=job.lines, counts=dict(totals)
        )
    job.transition(
        DeidJobStatus.RUNNING,
        DeidJobStatus.SUCCEEDED,
        finished_at=timezone.now(),
        processed_bytes=done_bytes,
        counts=dict(totals),
    )
    record_event(
        actor=None,
        action=AuditAction.ACTION,
        verb="finish",
        target=job,
        changes={"target": str(target.pk), "lines": job.lines, "entities": dict(totals), "errors": job.error_count},
    )


def _scrub_file(
    job: DeidJob, target: Dataset, source_file: DatasetFile, deidentifier: Deidentifier, staging: Path, done_bytes: int
) -> tuple[FileReport, DatasetFile]:
    with tempfile.NamedTemporaryFile(dir=staging, prefix="deid-", suffix=".part", delete=False) as handle:
        scratch = Path(handle.name)
    try:
        report = deidentify_file(
            source=source_file.absolute_path,
            destination=scratch,
            deidentifier=deidentifier,
            progress=lambda read: DeidJob.objects.filter(pk=job.pk).update(processed_bytes=done_bytes + read),
        )
        new_file = dataset_services.add_file_from_path(
            dataset=target, source_path=scratch, filename=source_file.name, created_by=job.created_by
        )
    finally:
        scratch.unlink(missing_ok=True)
    return report, new_file
