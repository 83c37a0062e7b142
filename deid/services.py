"""De-identification workflows: policies and their versions, scrubbing texts.

Audit events name the policy, the version and counts per entity type, never a piece
of the personal data itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import record_event
from deid.engine import PolicyConfig, Replacement
from deid.models import DEFAULT_POLICY_NAME, DeidPolicy, DeidPolicyVersion

User = AbstractBaseUser | AnonymousUser | None


class TextFormat:
    TEXT = "text"  # each item is plain text
    JSON = "json"  # each item is a JSON document: its string values are scrubbed, keys kept


class PolicyInUse(Exception):
    """The policy cannot be deleted (the default one)."""


def version_label(number: int) -> str:
    return f"{timezone.now():%Y-%m-%d}.{number}"


def _add_version(*, policy: DeidPolicy, config: PolicyConfig, actor: User, label: str = "") -> DeidPolicyVersion:
    last = policy.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = DeidPolicyVersion.objects.create(
        policy=policy,
        number=last + 1,
        label=label or version_label(last + 1),
        config=config.to_dict(),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    policy.current_version = version
    policy.save(update_fields=["current_version", "updated_at"])
    return version


@transaction.atomic
def create_policy(*, name: str, config: PolicyConfig, description: str = "", actor: User) -> DeidPolicy:
    policy = DeidPolicy.objects.create(
        name=name,
        description=description,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    version = _add_version(policy=policy, config=config, actor=actor)
    record_event(
        actor=actor, action=AuditAction.CREATE, target=policy, changes={"version": version.label, **config.to_dict()}
    )
    return policy


@transaction.atomic
def update_policy(
    *, policy: DeidPolicy, actor: User, config: PolicyConfig | None = None, description: str | None = None
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
def delete_policy(*, policy: DeidPolicy, actor: User) -> None:
    if policy.name == DEFAULT_POLICY_NAME:
        raise PolicyInUse("The default policy cannot be deleted; edit it instead.")
    record_event(actor=actor, action=AuditAction.DELETE, target=policy)
    policy.delete()


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
    reveal_mapping: bool = False,
    actor: User,
) -> DeidOutcome:
    """Scrub `texts` with the policy's current version. JSON items must parse (callers
    validate them first). Revealing the mapping is audited: who saw personal data."""
    deidentifier = policy.deidentifier(seed=seed)
    scrub = deidentifier.deidentify_json_text if text_format == TextFormat.JSON else deidentifier.deidentify
    results = [scrub(text) for text in texts]
    counts = dict(Counter(r.type for _, found in results for r in found))
    if reveal_mapping:
        record_event(
            actor=actor,
            action=AuditAction.ACTION,
            verb="reveal_mapping",
            target=policy,
            changes={"version": policy.current_version.label, "texts": len(texts), "entities": counts},
        )
    return DeidOutcome(
        deidentified=[text for text, _ in results],
        replacements=[found for _, found in results],
        policy_version=policy.current_version.label,
        counts=counts,
    )
