"""One run's page and the endpoints that keep its parts live (status, log tail, metrics)."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from console.forms import LogFilterForm
from console.lookups import run_for
from runs.models import Run

TAIL_LINES = 200  # lines shown when the page opens
POLL_BATCH = 500  # most lines one poll appends
STOP_POLLING = 286  # htmx stops an `every` trigger on this status


def log_context(run: Run, form: LogFilterForm) -> dict:
    """The lines to show and, while there may be more, the URL that fetches the next ones."""
    lines = form.filter(run.log_lines.all())
    after_seq = form.cleaned_data.get("after_seq")
    jumped = bool(form.cleaned_data.get("start_time"))
    if after_seq is not None:
        selected = list(lines.filter(seq__gt=after_seq).order_by("seq")[:POLL_BATCH])
    elif jumped:
        selected = list(lines.order_by("seq")[:TAIL_LINES])
    else:
        selected = list(lines.order_by("-seq")[:TAIL_LINES])[::-1]
    last_seq = selected[-1].seq if selected else (after_seq if after_seq is not None else 0)
    follow = not jumped
    params = {key: form.cleaned_data[key] for key in ("level", "q") if form.cleaned_data.get(key)}
    poll_url = (
        reverse("console:run-logs", args=[run.project_id, run.pk]) + "?" + urlencode({**params, "after_seq": last_seq})
    )
    return {"run": run, "lines": selected, "log_form": form, "follow": follow, "poll_url": poll_url}


@login_required
def run_detail(request: HttpRequest, project_id: UUID, run_id: UUID) -> HttpResponse:
    run = run_for(request.user, project_id, run_id)
    form = LogFilterForm(request.GET)
    form.is_valid()
    context = {
        **log_context(run, form),
        "artifacts": run.artifacts.prefetch_related("tags"),
        "metrics_url": reverse("console:run-metrics", args=[run.project_id, run.pk]),
    }
    return render(request, "runs/detail.html", context)


@login_required
def run_status(request: HttpRequest, project_id: UUID, run_id: UUID) -> HttpResponse:
    """The status panel alone; the page polls it while the run is active."""
    run = run_for(request.user, project_id, run_id)
    return render(request, "runs/_status_panel.html", {"run": run})


@login_required
def run_logs(request: HttpRequest, project_id: UUID, run_id: UUID) -> HttpResponse:
    """Log lines for the page: the filtered panel, or (with `after_seq`) only the new lines."""
    run = run_for(request.user, project_id, run_id)
    form = LogFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8")
    context = log_context(run, form)
    if form.cleaned_data.get("after_seq") is None:
        return render(request, "runs/_log_panel.html", context)
    if not context["lines"]:
        return HttpResponse(status=STOP_POLLING if run.is_finished else 204)
    return render(request, "runs/_log_lines.html", {**context, "oob": True})


@login_required
def run_log_download(request: HttpRequest, project_id: UUID, run_id: UUID) -> StreamingHttpResponse:
    run = run_for(request.user, project_id, run_id)

    def lines() -> Iterator[str]:
        for line in run.log_lines.order_by("seq").iterator(chunk_size=2000):
            yield f"{line.timestamp.isoformat()} {line.level} {line.message}\n"

    response = StreamingHttpResponse(lines(), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}.log"'
    return response


@login_required
def run_metrics(request: HttpRequest, project_id: UUID, run_id: UUID) -> JsonResponse:
    """Metric points after `after_id` (the last one the page has), grouped by name."""
    run = run_for(request.user, project_id, run_id)
    try:
        after_id = int(request.GET.get("after_id", 0))
    except ValueError:
        return JsonResponse({"detail": "after_id must be an integer."}, status=400)
    series: dict[str, list[list[float]]] = {}
    last_id = after_id
    points = run.metric_points.filter(pk__gt=after_id).order_by("pk").values_list("pk", "name", "step", "value")
    for pk, name, step, value in points.iterator(chunk_size=5000):
        series.setdefault(name, []).append([step, value])
        last_id = pk
    return JsonResponse({"series": series, "last_id": last_id, "active": run.is_active})


@login_required
def run_artifacts(request: HttpRequest, project_id: UUID, run_id: UUID) -> HttpResponse:
    run = run_for(request.user, project_id, run_id)
    return render(request, "runs/_artifacts.html", {"run": run, "artifacts": run.artifacts.prefetch_related("tags")})
