"""Training projects: what a team trains, on which data and config, and who may see it."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Count, ExpressionWrapper, Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _

from llmplatform import errors
from projects.training_files import clean_training_path


class ProjectStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    ARCHIVED = "archived", _("Archived")


class ExecutorKind(models.TextChoices):
    """Where runs execute: a project chooses one for its runs, runs.executors implements each."""

    LOCAL = "local", _("Local process")
    DOCKER = "docker", _("Docker container")
    SLURM = "slurm", _("Slurm job")


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


def duplicate_name_message(name: str) -> str:
    return f"A project named {name!r} already exists; choose another name."


def users_named(usernames: Collection[str]) -> list[AbstractBaseUser]:
    """The users a project's members are given as; a name nobody has is refused."""
    users = list(get_user_model().objects.filter(username__in=usernames))
    unknown = sorted(set(usernames) - {user.get_username() for user in users})
    if unknown:
        raise ValidationError(_("unknown users: %(names)s"), code="unknown_users", params={"names": ", ".join(unknown)})
    return users


class ProjectQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> ProjectQuerySet:
        """Staff see every project; others the ones they created or are members of."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(Q(created_by=user) | Q(members=user)).distinct()

    def with_tag(self, tag: str) -> ProjectQuerySet:
        """Projects whose `tags` list holds `tag`."""
        if connection.vendor == "postgresql":
            return self.filter(tags__contains=[tag])
        # SQLite has no JSON containment operator; its json_each() walks the list.
        # The table name is our own model's, never user text.
        sql = f'EXISTS (SELECT 1 FROM json_each("{self.model._meta.db_table}"."tags") WHERE value = %s)'  # noqa: S608
        in_tags = RawSQL(sql, [tag])  # noqa: S611 (the tag is a bound parameter)
        return self.filter(ExpressionWrapper(in_tags, output_field=models.BooleanField()))

    def with_runs_started(self) -> ProjectQuerySet:
        return self.annotate(runs_started=Count("runs", filter=Q(runs__started_at__isnull=False)))

    def by_reference(self, reference: str) -> Project:
        """A project by its UUID or its unique name (the contract's `{project_reference}`).

        NotFound when none of this queryset's matches: with `visible_to`, an outsider
        cannot tell a project hidden from them from one that does not exist.
        """
        if "\x00" in reference:  # no name holds one, and PostgreSQL refuses to compare with one
            raise errors.NotFound(f"No project {reference!r}.")
        try:
            return self.get(pk=uuid.UUID(reference))
        except (ValueError, Project.DoesNotExist):
            pass
        try:
            return self.get(name=reference)
        except Project.DoesNotExist:
            raise errors.NotFound(f"No project {reference!r}.") from None


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True, validators=[validate_project_name])
    description = models.TextField(blank=True)
    # The contract's owner is a free-form name ("alice"); who may act is `created_by` and `members`.
    owner = models.CharField(max_length=150, blank=True, db_index=True)
    tags = models.JSONField(default=list, blank=True)
    dataset_name = models.CharField(max_length=1024, blank=True, validators=[clean_training_path])
    training_yaml_name = models.CharField(max_length=1024, blank=True, validators=[clean_training_path])
    objective = models.TextField(blank=True)
    task_type = models.CharField(max_length=64, blank=True)
    base_model = models.CharField(max_length=512, blank=True)
    default_hyperparameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.ACTIVE)
    # Where its runs execute: an ExecutorKind, "" meaning settings.DEFAULT_EXECUTOR. Options per executor
    # (container, image, partition, account, time limit, command template...).
    executor = models.CharField(max_length=32, blank=True)
    executor_options = models.JSONField(default=dict, blank=True)
    max_concurrent_gpus = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="created_projects"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="projects")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def unique_error_message(self, model_class: type[models.Model], unique_check: tuple[str, ...]) -> ValidationError:
        if unique_check == ("name",):
            return ValidationError(duplicate_name_message(self.name), code="unique")
        return super().unique_error_message(model_class, unique_check)

    @property
    def is_archived(self) -> bool:
        return self.status == ProjectStatus.ARCHIVED

    def can_view(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        return Project.objects.visible_to(user).filter(pk=self.pk).exists()

    def can_edit(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        """Changing the project itself: its creator and staff."""
        return user.is_authenticated and (user.is_staff or self.created_by_id == user.pk)

    def can_operate(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        """Launching, cancelling, resuming runs and tagging artifacts: members too."""
        return self.can_edit(user) or (user.is_authenticated and self.members.filter(pk=user.pk).exists())


class ProjectVersion(models.Model):
    """One entry per change of a project's configuration: `{field: [old, new]}`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    changed_at = models.DateTimeField(auto_now_add=True)
    changed_by = models.CharField(max_length=150, blank=True)
    changes = models.JSONField(default=dict)

    class Meta:
        ordering = ["project", "version"]
        constraints = [models.UniqueConstraint(fields=["project", "version"], name="unique_project_version")]

    def __str__(self) -> str:
        return f"{self.project} v{self.version}"
