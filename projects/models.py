"""Training projects: what a team trains, on which data and config, and who may see it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ProjectStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    ARCHIVED = "archived", _("Archived")


class ProjectQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> ProjectQuerySet:
        """Staff see every project; others the ones they created or are members of."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(Q(created_by=user) | Q(members=user)).distinct()

    def by_reference(self, reference: str) -> Project:
        """A project by its UUID or its unique name (the contract's `{project_reference}`)."""
        try:
            return self.get(pk=uuid.UUID(reference))
        except (ValueError, Project.DoesNotExist):
            return self.get(name=reference)


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    # The contract's owner is a free-form name ("alice"); who may act is `created_by` and `members`.
    owner = models.CharField(max_length=150, blank=True, db_index=True)
    tags = models.JSONField(default=list, blank=True)
    dataset_name = models.CharField(max_length=1024, blank=True)
    training_yaml_name = models.CharField(max_length=1024, blank=True)
    objective = models.TextField(blank=True)
    task_type = models.CharField(max_length=64, blank=True)
    base_model = models.CharField(max_length=512, blank=True)
    default_hyperparameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.ACTIVE)
    # Where its runs execute: "" means settings.DEFAULT_EXECUTOR. Options per executor
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
