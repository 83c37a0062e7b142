"""Creating and changing projects. Every configuration change becomes a ProjectVersion."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max

from audit.models import AuditAction
from audit.services import record_event, signed_in
from llmplatform.errors import ConflictingState, refuse_invalid_fields
from llmplatform.users import Actor
from projects.models import FIELD_RULES, Project, ProjectVersion, duplicate_name_message

# The fields a project's owner configures; each change of one is versioned.
CONFIGURABLE_FIELDS = (
    "name",
    "description",
    "owner",
    "tags",
    "dataset_name",
    "training_yaml_name",
    "objective",
    "task_type",
    "base_model",
    "default_hyperparameters",
    "status",
    "executor",
    "executor_options",
    "max_concurrent_gpus",
    "max_priority",
    "trainer",
    "max_retries",
    "stall_after_seconds",
    "on_stall",
    "may_preempt",
    "max_truncated_share",
    "refuse_truncation",
)
# Operator powers: where runs execute (containers, images, command templates), GPU quotas,
# how far ahead in the GPU queue its runs may go and whether they may stop others' runs.
STAFF_ONLY_FIELDS = frozenset({"executor_options", "max_concurrent_gpus", "max_priority", "may_preempt"})


def _actor_name(actor: Actor) -> str:
    user = signed_in(actor)
    return user.get_username() if user else ""


def _duplicate_name(name: str) -> ConflictingState:
    return ConflictingState(duplicate_name_message(name))


def create_project(
    *,
    actor: Actor,
    fields: dict[str, Any],
    members: Iterable[User] = (),
) -> Project:
    """Create a project owned by `actor`; its first version records the initial configuration."""
    values = {name: fields[name] for name in CONFIGURABLE_FIELDS if name in fields}
    refuse_invalid_fields(values, FIELD_RULES)
    if not values.get("owner"):
        values["owner"] = _actor_name(actor)
    try:
        with transaction.atomic():
            project = Project.objects.create(created_by=signed_in(actor), **values)
            project.members.set(members)
            initial = {name: getattr(project, name) for name in CONFIGURABLE_FIELDS}
            ProjectVersion.objects.create(project=project, version=1, changed_by=_actor_name(actor), changes=initial)
    except IntegrityError as exc:
        raise _duplicate_name(values["name"]) from exc
    record_event(actor=actor, action=AuditAction.CREATE, target=project, changes=initial)
    return project


def update_project(
    *,
    project: Project,
    actor: Actor,
    fields: dict[str, Any],
    members: Iterable[User] | None = None,
) -> Project:
    """Apply the changed fields; one new version lists them all as `{field: [old, new]}`."""
    changes = {
        name: [getattr(project, name), value]
        for name, value in fields.items()
        if name in CONFIGURABLE_FIELDS and getattr(project, name) != value
    }
    if members is not None:
        old_members = sorted(project.members.values_list("username", flat=True))
        new_members = sorted(user.get_username() for user in members)
        if old_members != new_members:
            changes["members"] = [old_members, new_members]
    if not changes:
        return project
    refuse_invalid_fields({name: new for name, (_old, new) in changes.items()}, FIELD_RULES)
    try:
        with transaction.atomic():
            locked = Project.objects.select_for_update().get(pk=project.pk)
            for name, (_old, new) in changes.items():
                if name != "members":
                    setattr(locked, name, new)
            locked.save()
            if members is not None:
                locked.members.set(members)
            latest = locked.versions.aggregate(latest=Max("version"))["latest"] or 0
            ProjectVersion.objects.create(
                project=locked, version=latest + 1, changed_by=_actor_name(actor), changes=changes
            )
    except IntegrityError as exc:
        raise _duplicate_name(fields.get("name", project.name)) from exc
    record_event(actor=actor, action=AuditAction.UPDATE, target=locked, changes=changes)
    return locked
