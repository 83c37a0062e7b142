"""A project's runs table (console.run_table), and launching a run from the same address."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from console import run_table
from console.forms import RunTableFilterForm
from console.lookups import project_for
from console.views.projects import run_create
from projects.models import Project

# Sorted descending first: the newest, longest first is what people look for.
DESCENDING_FIRST = frozenset({"created", "started", "duration"})
# Columns of a run the table never shows: left out of the page's query.
UNSHOWN = ("argv", "executor_state", "ingest_state", "watch_state", "start_command")


@dataclass(frozen=True)
class Header:
    label: str
    url: str
    aria_sort: str  # "ascending", "descending" or "none"
    numeric: bool = False


def query_with(query: QueryDict, **values: str) -> str:
    """`query` without its page, with `values` set: the links of the table keep its filters and columns."""
    copy = query.copy()
    copy.pop("page", None)
    copy.pop("columns", None)  # a link shows the columns, it does not choose them again
    for name, value in values.items():
        copy[name] = value
    return copy.urlencode()


def header(query: QueryDict, current: str, name: str, label: str, *, numeric: bool = False) -> Header:
    """A sortable column's heading: a link to sort by it, the other way round when it is the sort already."""
    if current == name:
        target, aria = f"-{name}", "ascending"
    elif current == f"-{name}":
        target, aria = name, "descending"
    else:
        descending = name in DESCENDING_FIRST or name.startswith("m:")
        target, aria = f"-{name}" if descending else name, "none"
    return Header(label, "?" + query_with(query, sort=target), aria, numeric)


def project_creators(project: Project) -> list[str]:
    """Usernames of who launched the project's runs (one query, through the creator index)."""
    users = get_user_model().objects.filter(pk__in=project.runs.values("created_by"))
    return list(users.order_by("username").values_list("username", flat=True))


@login_required
def project_runs(request: HttpRequest, project_id: UUID) -> HttpResponse:
    """GET: the runs table; POST: launch a run (the project page's form)."""
    if request.method == "POST":
        return run_create(request, project_id)
    project = project_for(request.user, project_id)
    form = RunTableFilterForm(request.GET or None, creators=project_creators(project))
    offer = run_table.offered(project)
    columns = run_table.chosen_columns(request.user, project, request.GET, offer)
    sort = run_table.sort_key(request.GET.get("sort", ""))
    runs = run_table.filtered(project.runs.select_related("created_by").defer(*UNSHOWN), **form.filters())
    page = Paginator(runs.order_by(*run_table.ordering(sort)), run_table.RUNS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.setlist("col", [column.id for column in columns])
    fixed = [header(query, sort, name, str(label)) for name, label in run_table.FIXED_LABELS.items()]
    chosen = [header(query, sort, column.id, column.key, numeric=True) for column in columns]
    hidden = {name: request.GET[name] for name in ("q", "status", "tag", "creator") if request.GET.get(name)}
    context = {
        "project": project,
        "form": form,
        "page": page,
        "rows": [(run, [column.value(run) for column in columns]) for run in page],
        "headers": {name: item for name, item in zip(run_table.FIXED_LABELS, fixed, strict=True)},
        "column_headers": chosen,
        "offered": offer,
        "chosen_ids": [column.id for column in columns],
        "sort": sort,
        "hidden_filters": hidden,
        "query": query_with(query),
        "can_operate": project.can_operate(request.user),
    }
    return render(request, "runs/list.html", context)
