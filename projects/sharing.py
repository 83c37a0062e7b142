"""Who may see and change what people create beside projects: datasets, training configs, deployments.

The user who creates an object owns it. An object may be shared with a project: the
people who see that project (its creator and members) then see the object too, as they
see the project's runs. Seeing is all sharing gives: only the owner and staff change or
delete it. Staff see and change everything. Anybody else is told the object does not
exist (404), so nobody learns what others keep.
"""

from __future__ import annotations

from typing import Self, TypeVar

from django.db import models
from django.db.models import Q
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from llmplatform.errors import InvalidInput, NotFound
from llmplatform.users import Actor, Visitor
from projects.models import Project, visible_project


def is_owner_or_staff(user: Actor, owner_id: int | None) -> bool:
    """Changing or deleting: the owner and staff. An object nobody owns is staff's alone."""
    if user is None or not user.is_authenticated:
        return False
    return bool(user.is_staff or (owner_id is not None and user.pk == owner_id))


_Owned = TypeVar("_Owned", bound="Shared")


class SharedQuerySet(models.QuerySet[_Owned]):
    """Objects with a `created_by` owner and an optional `project` they are shared with."""

    def team_may_see(self) -> Q:
        """Which of the objects shared with a project its team sees (all of them, unless a model says less)."""
        return Q()

    def visible_to(self, user: Visitor) -> Self:
        """Staff see everything; others what they own and what is shared with a project they see."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        shared = Q(project__in=Project.objects.visible_to(user)) & self.team_may_see()
        return self.filter(Q(created_by=user) | shared)


class Shared(models.Model):
    """An owned object (`created_by`, declared by each model) that may be shared with one project."""

    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Shared with this project: its creator and members see it. Empty: its owner and staff only."),
        verbose_name=_("project"),
    )

    created_by_id: int | None

    class Meta:
        abstract = True

    def can_change(self, user: Actor) -> bool:
        return is_owner_or_staff(user, self.created_by_id)


def project_to_share_with(actor: Actor, reference: str | None) -> Project | None:
    """The project `reference` (its id or name) names, if `actor` may share with it: one they see.

    None for no reference. A project hidden from the actor is refused like one that
    does not exist, as bad input naming the field.
    """
    if not reference:
        return None
    if actor is None:
        raise InvalidInput(_("Only a signed-in user shares with a project."), field="project")
    try:
        return visible_project(actor, str(reference))
    except NotFound:
        raise InvalidInput(
            format_lazy(_("No project {reference!r} you can share with."), reference=reference), field="project"
        ) from None
