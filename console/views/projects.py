"""Projects: the list with search and filters, and one project's page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.errors import add_service_error
from console.forms import ProjectFilterForm, ProjectForm, RunForm
from console.lookups import project_for, run_for, training_files
from llmplatform.errors import DomainError
from projects import services as project_services
from projects.models import Project, ProjectVersion
from runs import services as run_services
from runs.models import Run

PROJECTS_PER_PAGE = 25
RUNS_ON_PROJECT_PAGE = 50


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    visible = Project.objects.visible_to(request.user)
    form = ProjectFilterForm(request.GET)
    projects = form.filter(visible).annotate(run_count=Count("runs", distinct=True)).order_by("-created_at")
    page = Paginator(projects, PROJECTS_PER_PAGE).get_page(request.GET.get("page"))
    owners = visible.exclude(owner="").order_by("owner").values_list("owner", flat=True).distinct()
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "owners": owners, "query": query.urlencode()}
    return render(request, "projects/list.html", context)


@dataclass(frozen=True)
class ChangeRow:
    field: str
    label: str
    before: Any
    after: Any


def change_rows(version: ProjectVersion) -> list[ChangeRow]:
    """A version's changes as field / before / after. The first version holds the values the
    project was created with; each later one holds [before, after] per field it changed."""
    rows = []
    for name, change in version.changes.items():
        field = ProjectForm.base_fields.get(name)
        label = str(field.label) if field is not None and field.label else name
        if version.version == 1:
            rows.append(ChangeRow(name, label, None, change))
        else:
            before, after = change
            rows.append(ChangeRow(name, label, before, after))
    return rows


def render_detail(
    request: HttpRequest, project: Project, run_form: RunForm | None = None, *, clone: Run | None = None
) -> HttpResponse:
    context = {
        "project": project,
        "runs": project.runs.all()[:RUNS_ON_PROJECT_PAGE],
        "versions": [(version, change_rows(version)) for version in project.versions.order_by("-version")],
        "run_form": run_form or RunForm.for_project(project, clone=clone),
        "clone": clone,
        "can_edit": project.can_edit(request.user),
        "can_operate": project.can_operate(request.user),
    }
    return render(request, "projects/detail.html", context, status=400 if run_form else 200)


@login_required
def project_detail(request: HttpRequest, project_id: UUID) -> HttpResponse:
    """The project; with `?clone=<run id>`, its launch form filled with that run's config ("clone and edit")."""
    project = project_for(request.user, project_id)
    clone = None
    if clone_id := request.GET.get("clone"):
        try:
            clone = run_for(request.user, project.pk, UUID(clone_id))
        except ValueError:
            raise Http404 from None
    return render_detail(request, project, clone=clone)


@login_required
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields, members = form.service_fields()
        try:
            project = project_services.create_project(actor=request.user, fields=fields, members=members)
        except DomainError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Project %(name)s created.") % {"name": project.name})
            return redirect("console:project-detail", project.pk)
    context = {"form": form, **training_files(request.user)}
    return render(request, "projects/form.html", context, status=400 if form.errors else 200)


@login_required
def project_edit(request: HttpRequest, project_id: UUID) -> HttpResponse:
    project = project_for(request.user, project_id)
    if not project.can_edit(request.user):
        raise PermissionDenied
    form = ProjectForm.for_project(project, request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields, members = form.service_fields()
        try:
            project_services.update_project(project=project, actor=request.user, fields=fields, members=members)
        except DomainError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Project saved."))
            return redirect("console:project-detail", project.pk)
    context = {"form": form, "project": project, **training_files(request.user)}
    return render(request, "projects/form.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def run_create(request: HttpRequest, project_id: UUID) -> HttpResponse:
    project = project_for(request.user, project_id)
    if not project.can_operate(request.user):
        raise PermissionDenied
    form = RunForm.for_project(project, request.POST)
    if form.is_valid():
        try:
            run = run_services.create_run(project=project, actor=request.user, **form.service_arguments())
        except DomainError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Run %(name)s queued.") % {"name": run.name})
            for warning in run.warnings:
                messages.warning(request, warning["message"])
            return redirect("console:run-detail", project.pk, run.pk)
    return render_detail(request, project, run_form=form)
