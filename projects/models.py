"""Training projects: what a team trains, on which data and config, and who may see it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, Q
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from llmplatform import errors
from llmplatform.documents import nesting_depth
from llmplatform.json_lists import list_holds
from llmplatform.prepared import Prepared, Read
from llmplatform.sentences import gettext_noop
from llmplatform.users import Actor, Visitor
from projects.training_command import check_command_template
from projects.training_files import clean_training_path

# Hyperparameters (a project's defaults, a run's) deeper or bigger than this are no
# trainer's config, and would break what writes and reads the effective config later.
MAX_HYPERPARAMETERS_DEPTH = 32
MAX_HYPERPARAMETERS_BYTES = 65_536


class ProjectStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    ARCHIVED = "archived", _("Archived")


class TaskType(models.TextChoices):
    """What is trained, one list for datasets (their validation follows it) and projects."""

    SFT = "sft", _("Supervised fine-tuning")
    LORA = "lora", _("LoRA fine-tuning")
    RL = "rl", _("Reinforcement learning (RLHF, DPO, PPO)")
    PRETRAIN = "pretrain", _("Pretraining")

    @classmethod
    def of(cls, name: str) -> TaskType | None:
        """The task type a project's free-form `task_type` names ("pt", "dpo" included), if any."""
        name = name.strip().lower()
        if name in cls.values:
            return cls(name)
        return TASK_TYPE_ALIASES.get(name)


# Other names projects were given before they chose from TaskType; the API keeps taking any.
TASK_TYPE_ALIASES = {
    "pt": TaskType.PRETRAIN,
    "dpo": TaskType.RL,
    "ppo": TaskType.RL,
    "rlhf": TaskType.RL,
}


class OnStall(models.TextChoices):
    """What the platform does with a run it finds stalled (runs.healing)."""

    LEAVE = "leave", _("Leave it running, flagged")
    CANCEL = "cancel", _("Cancel it")
    RESUME = "cancel_and_resume", _("Cancel it and resume from its last complete checkpoint")


# A project retries a failed run at most this often (`Project.max_retries`).
MAX_RETRIES = 10


class ExecutorKind(models.TextChoices):
    """Where runs execute: a project chooses one for its runs, runs.executors implements each."""

    LOCAL = "local", _("Local process")
    DOCKER = "docker", _("Docker container")
    SLURM = "slurm", _("Slurm job")


class TrainerKind(models.TextChoices):
    """Which trainer a project's runs start, so that a launch can check their config against its arguments
    (projects.trainer_arguments); blank on a project: derived from its command (`Project.trainer_in_effect`)."""

    LLAMAFACTORY = "llamafactory-0.9.x", _("LLaMA-Factory 0.9.x")
    HF_TRAINER = "hf-trainer", _("A script around transformers.Trainer")
    UNCHECKED = "unchecked", _("Another trainer: its config is not checked")


# LLaMA-Factory's own entry points: its command line, and the release script the platform's
# default TRAINING_COMMAND (`bash run_train_full_sft.sh {training_yaml}`) runs.
LLAMAFACTORY_PROGRAMS = frozenset({"llamafactory-cli", "run_train_full_sft.sh"})


# A run's place in the queue (higher goes first). Each project has a ceiling on it that staff set
# (`Project.max_priority`); people other than staff launch its runs at or below it.
MIN_PRIORITY, MAX_PRIORITY = -1000, 1000

# A project's GPU cap (`Project.max_concurrent_gpus`): more GPUs than any cluster the platform schedules has.
MAX_CONCURRENT_GPUS = 100_000


def validate_project_name(value: str) -> None:
    """A name `/projects/{project_reference}` can address: a reference is tried as a
    UUID first, and a path segment holds no '/'."""
    if not value.strip():
        raise ValidationError(_("must not be blank"), code="blank")
    if "/" in value or any(ord(char) < 32 for char in value):
        raise ValidationError(_("must not contain '/' or control characters"), code="unaddressable")
    try:
        uuid.UUID(value)
    except ValueError:
        return
    raise ValidationError(_("must not be a UUID (projects are referenced by id or name)"), code="uuid")


def validate_hyperparameters(value: Any) -> None:
    """A JSON object nested at most MAX_HYPERPARAMETERS_DEPTH levels and at most MAX_HYPERPARAMETERS_BYTES as JSON."""
    if not isinstance(value, dict):
        raise ValidationError(_("must be a JSON object"), code="invalid")
    if nesting_depth(value, limit=MAX_HYPERPARAMETERS_DEPTH) > MAX_HYPERPARAMETERS_DEPTH:
        raise ValidationError(
            _("must not be nested more than %(limit)d levels deep"),
            code="too_deep",
            params={"limit": MAX_HYPERPARAMETERS_DEPTH},
        )
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    if size > MAX_HYPERPARAMETERS_BYTES:
        raise ValidationError(
            _("must not be larger than %(limit)d bytes as JSON (it is %(size)d)"),
            code="too_large",
            params={"limit": MAX_HYPERPARAMETERS_BYTES, "size": size},
        )


def validate_executor_options(value: Any) -> None:
    """A JSON object; its `command`, when set, a usable training command template (projects.training_command)."""
    if not isinstance(value, dict):
        raise ValidationError(_("must be a JSON object"), code="invalid")
    command = value.get("command")
    if command is None or command == "":
        return
    if not isinstance(command, str):
        raise ValidationError(_("command must be a string: the training command template"), code="invalid")
    try:
        check_command_template(command)
    except ValueError as exc:
        raise ValidationError(
            _("command %(command)s cannot be used: %(problem)s"),
            code="invalid_command",
            params={"command": repr(command), "problem": str(exc)},
        ) from None


def validate_trainer(value: Any) -> None:
    if value not in ("", *TrainerKind.values):
        raise ValidationError(
            _("must be one of %(choices)s, or blank"),
            code="invalid_choice",
            params={"choices": ", ".join(TrainerKind.values)},
        )


# The rules on the JSON fields, which have no field validators (the model's clean() runs them).
JSON_FIELD_RULES: dict[str, Callable[[Any], object]] = {
    "default_hyperparameters": validate_hyperparameters,
    "executor_options": validate_executor_options,
}
# Every rule on a configurable field: what the services check for any caller.
FIELD_RULES: dict[str, Callable[[Any], object]] = {
    "name": validate_project_name,
    "dataset_name": clean_training_path,
    "training_yaml_name": clean_training_path,
    "trainer": validate_trainer,
    **JSON_FIELD_RULES,
}


def duplicate_name_message(name: str) -> str:
    return gettext_noop("A project named {name!r} already exists; choose another name.").format(name=name)


def users_named(usernames: Collection[str]) -> list[User]:
    """The users a project's members are given as; a name nobody has is refused."""
    users = list(get_user_model().objects.filter(username__in=usernames))
    unknown = sorted(set(usernames) - {user.get_username() for user in users})
    if unknown:
        raise ValidationError(_("unknown users: %(names)s"), code="unknown_users", params={"names": ", ".join(unknown)})
    return users


def created_or_joined_by(user_id: int) -> Q:
    return Q(created_by_id=user_id) | Q(members__id=user_id)


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible_to(self, user: Visitor) -> ProjectQuerySet:
        """Staff see every project; others the ones they created or are members of."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(created_or_joined_by(user.pk)).distinct()

    def with_tag(self, tag: str) -> ProjectQuerySet:
        """Projects whose `tags` list holds `tag`."""
        return self.filter(list_holds(self.model, "tags", tag))

    def with_runs_started(self) -> ProjectQuerySet:
        return self.annotate(runs_started=Count("runs", filter=Q(runs__started_at__isnull=False)))


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    name = models.CharField(max_length=200, unique=True, validators=[validate_project_name], verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    # The contract's owner is a free-form name ("alice"); who may act is `created_by` and `members`.
    owner = models.CharField(max_length=150, blank=True, db_index=True, verbose_name=_("owner"))
    tags = models.JSONField(default=list, blank=True, verbose_name=_("tags"))
    # Django ignores what a validator returns; the serializers use the normalised path it gives.
    dataset_name = models.CharField(
        max_length=1024,
        blank=True,
        validators=[clean_training_path],  # type: ignore[list-item]
        verbose_name=_("dataset name"),
    )
    training_yaml_name = models.CharField(
        max_length=1024,
        blank=True,
        validators=[clean_training_path],  # type: ignore[list-item]
        verbose_name=_("training YAML name"),
    )
    objective = models.TextField(blank=True, verbose_name=_("objective"))
    task_type = models.CharField(max_length=64, blank=True, verbose_name=_("task type"))
    base_model = models.CharField(max_length=512, blank=True, verbose_name=_("base model"))
    default_hyperparameters = models.JSONField(default=dict, blank=True, verbose_name=_("default hyperparameters"))
    status = models.CharField(
        max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.ACTIVE, verbose_name=_("status")
    )
    # Where its runs execute: an ExecutorKind, "" meaning settings.DEFAULT_EXECUTOR. Options per executor
    # (container, image, partition, account, time limit, command template...).
    executor = models.CharField(max_length=32, blank=True, verbose_name=_("executor"))
    executor_options = models.JSONField(default=dict, blank=True, verbose_name=_("executor options"))
    max_concurrent_gpus = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_CONCURRENT_GPUS)],
        verbose_name=_("max concurrent GPUs"),
    )
    trainer = models.CharField(
        max_length=32,
        blank=True,
        choices=TrainerKind.choices,
        help_text=_("Which trainer its runs start; blank: LLaMA-Factory for its commands, else unchecked."),
        verbose_name=_("trainer"),
    )
    # Blank: settings.DEFAULT_MAX_PRIORITY. Like the GPU cap, only staff set it.
    max_priority = models.IntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(MIN_PRIORITY), MaxValueValidator(MAX_PRIORITY)],
        verbose_name=_("max priority"),
    )
    # Runs that heal (runs.healing). A failed run is resumed from its latest complete checkpoint
    # up to `max_retries` times; a running run writing no step for `stall_after_seconds`
    # (blank: ten times its median step time, at least STALL_AFTER_FLOOR_SECONDS) while its GPUs
    # or CPUs idle is flagged stalled, then handled as `on_stall` says. Its creator sets these.
    max_retries = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(MAX_RETRIES)], verbose_name=_("max retries")
    )
    stall_after_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], verbose_name=_("stall after seconds")
    )
    on_stall = models.CharField(
        max_length=32, choices=OnStall.choices, default=OnStall.LEAVE, verbose_name=_("on stall")
    )
    # Staff only: its queued runs may stop lower-priority runs holding the GPUs they need.
    may_preempt = models.BooleanField(default=False, verbose_name=_("may preempt"))
    # The length check of a launch (runs.lengths): more than this share of the dataset's records longer
    # than the config's cutoff_len (which the trainer cuts them at) warns, or refuses the launch.
    max_truncated_share = models.FloatField(
        default=0.01,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_("The share of records (0 to 1) that may be longer than cutoff_len before a launch warns."),
        verbose_name=_("max truncated share"),
    )
    refuse_truncation = models.BooleanField(
        default=False,
        help_text=_("Refuse a launch, rather than warn, when more records than that are longer than cutoff_len."),
        verbose_name=_("refuse truncation"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="created_projects",
        verbose_name=_("created by"),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="projects", verbose_name=_("members")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    objects = ProjectQuerySet.as_manager()

    class Meta:
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def unique_error_message(self, model_class: type[Project], unique_check: Sequence[str]) -> ValidationError:
        if unique_check == ("name",):
            return ValidationError(duplicate_name_message(self.name), code="unique")
        return super().unique_error_message(model_class, unique_check)

    def clean(self) -> None:
        """The JSON fields' rules, for a project an operator edits in the admin (the others are field validators)."""
        problems = errors.field_problems({field: getattr(self, field) for field in JSON_FIELD_RULES}, JSON_FIELD_RULES)
        if problems:
            raise ValidationError(problems)

    @property
    def trainer_in_effect(self) -> str:
        """Its `trainer`; blank: LLaMA-Factory when its command runs one of LLaMA-Factory's entry points
        (the default TRAINING_COMMAND does), else unchecked."""
        if self.trainer:
            return self.trainer
        template = self.executor_options.get("command") or settings.TRAINING_COMMAND
        try:
            tokens = check_command_template(template)
        except ValueError:
            return TrainerKind.UNCHECKED.value
        programs = {token.rsplit("/", 1)[-1] for token in tokens[:2]}
        return (TrainerKind.LLAMAFACTORY if programs & LLAMAFACTORY_PROGRAMS else TrainerKind.UNCHECKED).value

    @property
    def is_archived(self) -> bool:
        return self.status == ProjectStatus.ARCHIVED

    def can_view(self, user: Visitor) -> bool:
        return Project.objects.visible_to(user).filter(pk=self.pk).exists()

    def can_edit(self, user: Visitor) -> bool:
        """Changing the project itself: its creator and staff."""
        return user.is_authenticated and (user.is_staff or self.created_by_id == user.pk)

    def can_operate(self, user: Visitor) -> bool:
        """Launching, cancelling, resuming runs and tagging artifacts: members too."""
        return self.can_edit(user) or (user.is_authenticated and self.members.filter(pk=user.pk).exists())

    @property
    def priority_ceiling(self) -> int:
        """The highest priority its runs may be launched with by people other than staff."""
        return self.max_priority if self.max_priority is not None else settings.DEFAULT_MAX_PRIORITY

    def check_priority(self, priority: int, user: Actor) -> None:
        """NotPermitted when `user` may not launch a run of this project with `priority`: above
        the project's ceiling, unless staff (who set the ceiling) or the platform itself (None)."""
        if priority <= self.priority_ceiling or user is None or user.is_staff:
            return
        raise errors.NotPermitted(
            format_lazy(
                _(
                    "Priority {priority} is above the ceiling of project {name!r}: {ceiling} "
                    "(max_priority, set by staff)."
                ),
                priority=priority,
                name=self.name,
                ceiling=self.priority_ceiling,
            ),
            max_priority=self.priority_ceiling,
        )

    def gpu_cap_shortfall(self, gpu_count: int) -> str:
        """Why a run asking for `gpu_count` ledger GPUs can never start in this project, or "":
        its GPU cap (`max_concurrent_gpus`) is smaller."""
        cap = self.max_concurrent_gpus
        if cap is None or gpu_count <= cap:
            return ""
        return gettext_noop(
            "Project {name!r} may hold at most {cap} GPU(s) at once (max_concurrent_gpus, set by staff); "
            "this run asks for {count}."
        ).format(name=self.name, cap=cap, count=gpu_count)


class ProjectVersion(models.Model):
    """One entry per change of a project's configuration: `{field: [old, new]}`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="versions", verbose_name=_("project"))
    version = models.PositiveIntegerField(verbose_name=_("version"))
    changed_at = models.DateTimeField(auto_now_add=True, verbose_name=_("changed at"))
    changed_by = models.CharField(max_length=150, blank=True, verbose_name=_("changed by"))
    changes = models.JSONField(default=dict, verbose_name=_("changes"))

    class Meta:
        verbose_name = _("project version")
        verbose_name_plural = _("project versions")
        ordering = ["project", "version"]
        constraints = [models.UniqueConstraint(fields=["project", "version"], name="unique_project_version")]

    def __str__(self) -> str:
        return f"{self.project} v{self.version}"


# Every project-scoped request looks its project up: by id or by name, as staff or not,
# each shape compiled once (llmplatform.prepared).
_STAFF_LOOKUPS: dict[str, Prepared[Project]] = {
    "pk": Prepared(lambda key: Project.objects.filter(pk=key)),
    "name": Prepared(lambda key: Project.objects.filter(name=key)),
}
_MEMBER_LOOKUPS: dict[str, Prepared[Project]] = {
    "pk": Prepared(lambda user, key: Project.objects.filter(created_or_joined_by(user), pk=key).distinct()),
    "name": Prepared(lambda user, key: Project.objects.filter(created_or_joined_by(user), name=key).distinct()),
}


def visible_project(user: Visitor, reference: str) -> Project:
    """A project `user` may see, by its UUID or its unique name (the contract's `{project_reference}`).

    NotFound when there is none: an outsider cannot tell a project hidden from them from
    one that does not exist. A NUL names nothing (PostgreSQL refuses to compare with one).
    """
    return first_visible(reference, visible_project_reads(user, reference))


def visible_project_reads(user: Visitor, reference: str) -> list[Read[list[Project]]]:
    """`visible_project`'s lookups, by id then by name, as reads that a request may send together with
    its others (llmplatform.prepared.read_together); `first_visible` answers from them."""
    if not user.is_authenticated or "\x00" in reference:
        raise _no_project(reference)
    try:
        keys: list[tuple[str, uuid.UUID | str]] = [("pk", uuid.UUID(reference)), ("name", reference)]
    except ValueError:
        keys = [("name", reference)]
    if user.is_staff:
        return [_STAFF_LOOKUPS[field].read_objects(key) for field, key in keys]
    return [_MEMBER_LOOKUPS[field].read_objects(user.pk, key) for field, key in keys]


def first_visible(reference: str, reads: Sequence[Read[list[Project]]]) -> Project:
    """The project the first of `visible_project_reads` that finds one finds (a read not yet sent runs
    only if those before it found nothing)."""
    for read in reads:
        if found := read.answer():
            return found[0]
    raise _no_project(reference)


def _no_project(reference: str) -> errors.NotFound:
    return errors.NotFound(format_lazy(_("No project {reference!r}."), reference=reference))
