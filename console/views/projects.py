"""Projects: the list with search and filters, and one project's page."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.forms import ProjectFilterForm
from console.lookups import project_for
from projects.models import Project

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


@login_required
def project_detail(request: HttpRequest, project_id: UUID) -> HttpResponse:
    project = project_for(request.user, project_id)
    context = {
        "project": project,
        "runs": project.runs.all()[:RUNS_ON_PROJECT_PAGE],
        "versions": project.versions.order_by("-version"),
    }
    return render(request, "projects/detail.html", context)
