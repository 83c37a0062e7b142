"""The console's one way to fetch what a user asked for: visible to them, or 404.

An outsider gets "not found" for a project they cannot see, never "forbidden",
so the console does not reveal which project names exist.
"""

from __future__ import annotations

from uuid import UUID

from django.shortcuts import get_object_or_404

from llmplatform.users import Visitor
from projects.models import Project
from runs.models import Run, RunQuerySet


def visible_runs(user: Visitor) -> RunQuerySet:
    return Run.objects.filter(project__in=Project.objects.visible_to(user))


def project_for(user: Visitor, project_id: UUID) -> Project:
    return get_object_or_404(Project.objects.visible_to(user), pk=project_id)


def run_for(user: Visitor, project_id: UUID, run_id: UUID) -> Run:
    return get_object_or_404(visible_runs(user).select_related("project"), pk=run_id, project_id=project_id)
