"""Two or more runs side by side: parameters that differ, final and best metrics, and their charts overlaid."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.comparison import PALETTE, metric_rows, parameter_rows, run_colours
from console.lookups import visible_runs
from console.views.metrics import chart_run

MAX_COMPARED_RUNS = len(PALETTE)  # each its own colour
RUNS_TO_PICK_FROM = 30


def run_ids(values: list[str]) -> list[uuid.UUID]:
    """The well-formed run ids among the query's values; the rest are ignored."""
    ids = []
    for value in values[:MAX_COMPARED_RUNS]:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    return ids


@login_required
def compare_runs(request: HttpRequest) -> HttpResponse:
    """`?runs=ID&runs=ID…`; runs the user cannot see are left out, as if they did not exist."""
    visible = visible_runs(request.user).select_related("project")
    runs = list(visible.filter(pk__in=run_ids(request.GET.getlist("runs"))).order_by("created_at", "pk"))
    colours = run_colours(runs)
    parameters = parameter_rows(runs) if len(runs) > 1 else []
    context = {
        "runs": [(run, colours[run.pk]) for run in runs],
        "chart_runs": [chart_run(run, colours[run.pk]) for run in runs],
        "parameters": parameters,
        "parameters_differ": any(row.differs for row in parameters),
        "metrics": metric_rows(runs),
        "recent_runs": visible.order_by("-created_at")[:RUNS_TO_PICK_FROM],
        "selected": {str(run.pk) for run in runs},
    }
    return render(request, "runs/compare.html", context)
