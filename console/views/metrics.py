"""A run's metric points for the console's charts (JSON) and their export as stored (CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import reverse

from console.forms import MetricsQueryForm
from console.lookups import run_for
from runs.metric_series import MAX_EXPORT_ROWS, read_series, series_points
from runs.models import Run


def chart_run(run: Run, colour: str) -> dict[str, str]:
    """What the charts' script needs of a run: its label and colour, and where its points are."""
    return {
        "id": str(run.pk),
        "label": f"{run.project.name} / {run}",
        "name": str(run),
        "colour": colour,
        "metrics_url": reverse("console:run-metrics", args=[run.project_id, run.pk]),
        "csv_url": reverse("console:run-metrics-csv", args=[run.project_id, run.pk]),
    }


def refused(form: MetricsQueryForm) -> JsonResponse:
    """400 naming each parameter that is wrong, in the API's shape."""
    errors = {field: [str(message) for message in messages] for field, messages in form.errors.items()}
    detail = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
    return JsonResponse({"detail": detail, "errors": errors}, status=400)


def new_points(run: Run, after_id: int) -> dict:
    """Every point stored after `after_id`, grouped by name, with the times the trainer wrote them."""
    series: dict[str, list[list[float]]] = {}
    times: dict[str, list[float]] = {}
    last_id = after_id
    points = (
        run.metric_points.filter(pk__gt=after_id).order_by("pk").values_list("pk", "name", "step", "value", "timestamp")
    )
    for pk, name, step, value, at in points.iterator(chunk_size=5000):
        series.setdefault(name, []).append([step, value])
        times.setdefault(name, []).append(at.timestamp())
        last_id = pk
    return {"series": series, "times": times, "last_id": last_id}


def range_points(run: Run, form: MetricsQueryForm) -> dict:
    """Each series over the asked step range, at most `max_points` points each, and the id to poll after."""
    last_id = run.metric_points.aggregate(last=Max("pk"))["last"] or 0  # first: a point added meanwhile comes again
    series = read_series(run, form.series_query())
    return {
        "series": {item.name: [[step, value] for step, value, _ in item.points] for item in series},
        "times": {item.name: [at.timestamp() for _, _, at in item.points] for item in series},
        "total": {item.name: item.total for item in series},
        "last_id": last_id,
    }


@login_required
def run_metrics(request: HttpRequest, project_id: UUID, run_id: UUID) -> JsonResponse:
    """With `max_points`: the series over a step range (`since_step`, `until_step`, `name`), downsampled;
    else the points after `after_id` (the last one the page has). Points are `[step, value]`, and `times`
    holds, aligned with them, when the trainer wrote each (seconds since the epoch)."""
    run = run_for(request.user, project_id, run_id)
    form = MetricsQueryForm(request.GET)
    if not form.is_valid():
        return refused(form)
    if form.cleaned_data.get("max_points") is None:
        body = new_points(run, form.cleaned_data.get("after_id") or 0)
    else:
        body = range_points(run, form)
    return JsonResponse({**body, "active": run.is_active})


@login_required
def run_metrics_csv(request: HttpRequest, project_id: UUID, run_id: UUID) -> HttpResponse | StreamingHttpResponse:
    """The points as stored, `name,step,value,timestamp` in name and step order, at most `limit` rows
    (default and most MAX_EXPORT_ROWS) from `offset`; `X-Total-Count` and a `Link` to the next page as the API has."""
    run = run_for(request.user, project_id, run_id)
    form = MetricsQueryForm(request.GET)
    if not form.is_valid():
        return refused(form)
    limit = form.cleaned_data.get("limit") or MAX_EXPORT_ROWS
    offset = form.cleaned_data.get("offset") or 0
    points = series_points(run, form.series_query())
    total = points.count()
    rows = points.values_list("name", "step", "value", "timestamp")[offset : offset + limit]

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["name", "step", "value", "timestamp"])
        for name, step, value, at in rows.iterator(chunk_size=5000):
            writer.writerow([name, step, repr(value), at.isoformat()])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-metrics.csv"'
    response["X-Total-Count"] = str(total)
    if offset + limit < total:
        query = request.GET.copy()
        query["offset"] = str(offset + limit)
        response["Link"] = f'<{request.build_absolute_uri(request.path)}?{query.urlencode()}>; rel="next"'
    return response
