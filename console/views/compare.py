"""Two or more runs' metrics overlaid, one chart per metric."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.lookups import visible_runs
from runs.models import MetricPoint

MAX_COMPARED_RUNS = 10
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
    runs = list(visible.filter(pk__in=run_ids(request.GET.getlist("runs"))))
    labels = {run.pk: f"{run.project.name} / {run}" for run in runs}
    series: dict[str, dict[str, list[list[float]]]] = {}
    points = (
        MetricPoint.objects.filter(run__in=list(labels)).order_by("step").values_list("run_id", "name", "step", "value")
    )
    for run_id, name, step, value in points.iterator(chunk_size=5000):
        series.setdefault(name, {}).setdefault(labels[run_id], []).append([step, value])
    context = {
        "runs": runs,
        "series": series,
        "recent_runs": visible.order_by("-created_at")[:RUNS_TO_PICK_FROM],
        "selected": {str(run.pk) for run in runs},
    }
    return render(request, "runs/compare.html", context)
