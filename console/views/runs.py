"""One run's page and the endpoints that keep its parts live (status, log tail, metrics)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.comparison import PALETTE
from console.errors import explain
from console.forms import LogFilterForm, RunNotesForm, TagForm
from console.lookups import run_for
from console.queue import run_chain, run_resumes
from console.views.metrics import chart_run
from llmplatform.errors import DomainError, NotFound
from runs import services
from runs.logs import LogQuery, read_log_page
from runs.models import MAX_LISTED_FILES, Artifact, ArtifactTagValue, ArtifactType, LogLine, Run

TAIL_LINES = 200  # lines shown when the page opens
POLL_BATCH = 500  # most lines one poll appends
MAX_CONFIG_CHARS = 200_000  # a YAML config is a few KB; never render a huge file
STOP_POLLING = 286  # htmx stops an `every` trigger on this status


def selected_lines(run: Run, form: LogFilterForm) -> list[LogLine]:
    """New lines after `after_seq`, lines from a chosen time, or else the latest lines (the tail)."""
    data = form.cleaned_data
    if data.get("after_seq") is not None:
        return read_log_page(run, form.query(page_size=POLL_BATCH)).items
    if data.get("start_time"):
        return read_log_page(run, form.query(page_size=TAIL_LINES)).items
    if not (data.get("level") or data.get("q")):
        tail_start = max(run.next_log_seq - 1 - TAIL_LINES, 0)
        return read_log_page(run, LogQuery(page_size=TAIL_LINES, after_seq=tail_start)).items
    first = read_log_page(run, form.query(page_size=TAIL_LINES))
    if first.total <= TAIL_LINES:
        return first.items
    return read_log_page(run, form.query(page_size=TAIL_LINES, page=math.ceil(first.total / TAIL_LINES))).items


def log_context(run: Run, form: LogFilterForm) -> dict:
    """The lines to show and, while following, the URL that fetches the next ones."""
    lines = selected_lines(run, form)
    after_seq = form.cleaned_data.get("after_seq")
    last_seq = lines[-1].seq if lines else (after_seq if after_seq is not None else run.next_log_seq - 1)
    params = {key: form.cleaned_data[key] for key in ("level", "q") if form.cleaned_data.get(key)}
    poll_url = (
        reverse("console:run-logs", args=[run.project_id, run.pk]) + "?" + urlencode({**params, "after_seq": last_seq})
    )
    follow = not form.cleaned_data.get("start_time")
    catching_up = after_seq is not None and len(lines) == POLL_BATCH  # more are waiting: ask again at once
    # Following ends with the run: once it has finished, its stop order (if any) carried out, and every line read.
    complete = run.is_finished and "stop" not in run.executor_state and not catching_up
    context = {"run": run, "lines": lines, "log_form": form, "follow": follow, "poll_url": poll_url}
    return {**context, "catching_up": catching_up, "live": follow and not complete}


def effective_config(artifacts: list[Artifact]) -> str | None:
    """The YAML the trainer was given (the run's `config` artifact), if it is still on disk."""
    config = next((artifact for artifact in artifacts if artifact.type == ArtifactType.CONFIG), None)
    if config is None:
        return None
    try:
        with open(config.path, encoding="utf-8", errors="replace") as file:
            return file.read(MAX_CONFIG_CHARS)
    except OSError:
        return None


@login_required
def run_detail(request: HttpRequest, project_id: UUID, run_id: UUID) -> HttpResponse:
    run = run_for(request.user, project_id, run_id)
    form = LogFilterForm(request.GET)
    form.is_valid()
    artifacts = in_step_order(run)
    context = {
        **log_context(run, form),
        "artifacts": artifacts,
        "effective_config": effective_config(artifacts),
        "can_operate": run.project.can_operate(request.user),
        "chain": run_chain(request.user, run),
        "chart_runs": [chart_run(run, PALETTE[0])],
        "notes_form": RunNotesForm.for_run(run),
        "resumes": run_resumes(request.user, run),
    }
    return render(request, "runs/detail.html", context)


@login_required
def run_status(request: HttpRequest, project_id: UUID, run_id: UUID) -> HttpResponse:
    """The status panel alone; the page polls it while the run is active."""
    run = run_for(request.user, project_id, run_id)
    context = {"run": run, "can_operate": run.project.can_operate(request.user), "chain": run_chain(request.user, run)}
    return render(request, "runs/_status_panel.html", context)


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
    if not context["live"]:  # the last lines, and "finished" in place of "Following"; htmx stops polling
        return render(request, "runs/_log_lines.html", {**context, "oob": True}, status=STOP_POLLING)
    if not context["lines"]:
        return HttpResponse(status=204)
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


def in_step_order(run: Run) -> list[Artifact]:
    """The run's artifacts with their tags: checkpoints by step, then the rest as they came."""
    artifacts = list(run.artifacts.prefetch_related("tags"))
    for artifact in artifacts:
        artifact.run = run  # on_disk reads the run's folder
    return sorted(artifacts, key=lambda artifact: (artifact.step is None, artifact.step or 0))


@login_required
def run_artifacts(request: HttpRequest, project_id: UUID, run_id: UUID) -> HttpResponse:
    run = run_for(request.user, project_id, run_id)
    context = {"run": run, "artifacts": in_step_order(run), "can_operate": run.project.can_operate(request.user)}
    return render(request, "runs/_artifacts.html", context)


def artifact_of(request: HttpRequest, project_id: UUID, run_id: UUID, artifact_id: UUID) -> Artifact:
    """An artifact of a run this user sees (its project's creator, members, staff), else 404."""
    run = run_for(request.user, project_id, run_id)
    artifact = get_object_or_404(run.artifacts, pk=artifact_id)
    artifact.run = run
    return artifact


@login_required
def artifact_download(request: HttpRequest, project_id: UUID, run_id: UUID, artifact_id: UUID) -> HttpResponseBase:
    """The artifact's file, or (`?path=`) a file of its folder, streamed; a folder's own download is its
    listing; anything outside the run's folder is 404."""
    artifact = artifact_of(request, project_id, run_id, artifact_id)
    relative = request.GET.get("path", "")
    try:
        path = artifact.local_path(relative)
    except NotFound:
        raise Http404 from None
    if path.is_dir() and not relative:
        return redirect("console:artifact-files", project_id, run_id, artifact_id)
    if not path.is_file():
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


@login_required
def artifact_files(request: HttpRequest, project_id: UUID, run_id: UUID, artifact_id: UUID) -> HttpResponse:
    """The files of a folder artifact (a checkpoint), each with its size and a download link."""
    artifact = artifact_of(request, project_id, run_id, artifact_id)
    try:
        files = artifact.files()
    except NotFound:
        raise Http404 from None
    context = {"run": artifact.run, "artifact": artifact, "files": files, "limit": MAX_LISTED_FILES}
    return render(request, "runs/artifact_files.html", context)


def operable_run(request: HttpRequest, project_id: UUID, run_id: UUID) -> Run:
    """The run, if this user may change it: members and the creator; others see it or get 404."""
    run = run_for(request.user, project_id, run_id)
    if not run.project.can_operate(request.user):
        raise PermissionDenied
    return run


@login_required
@require_POST
def run_cancel(request: HttpRequest, project_id: UUID, run_id: UUID) -> HttpResponse:
    run = operable_run(request, project_id, run_id)
    try:
        # Without waiting: the page answers at once and counts down to SIGKILL while the supervisor stops it.
        run = services.cancel_run(run=run, actor=request.user, wait=False)
    except DomainError as error:
        messages.error(request, explain(error))
    else:
        if run.is_active:
            messages.success(request, _("Stopping run %(name)s: it may save a checkpoint first.") % {"name": run})
        else:
            messages.success(request, _("Run %(name)s cancelled.") % {"name": run})
    return redirect("console:run-detail", run.project_id, run.pk)


@login_required
@require_POST
def run_resume(request: HttpRequest, project_id: UUID, run_id: UUID) -> HttpResponse:
    """A new run from one of this run's checkpoints (`artifact` in the form)."""
    run = operable_run(request, project_id, run_id)
    try:
        resumed = services.resume_run(
            run=run, actor=request.user, source_artifact_id=request.POST.get("artifact"), overrides={}
        )
    except DomainError as error:
        messages.error(request, explain(error))
        return redirect("console:run-detail", run.project_id, run.pk)
    messages.success(request, _("Run %(name)s queued, resuming from the checkpoint.") % {"name": resumed})
    return redirect("console:run-detail", resumed.project_id, resumed.pk)


@login_required
@require_POST
def run_notes(request: HttpRequest, project_id: UUID, run_id: UUID) -> HttpResponse:
    """Change the run's notes and tags (its page's form)."""
    run = operable_run(request, project_id, run_id)
    form = RunNotesForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors.as_text())
    else:
        try:
            services.annotate_run(run=run, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            messages.error(request, explain(error))
        else:
            messages.success(request, _("Notes and tags of %(name)s saved.") % {"name": run})
    return redirect("console:run-detail", run.project_id, run.pk)


@login_required
@require_POST
def artifact_tag(request: HttpRequest, project_id: UUID, run_id: UUID, artifact_id: UUID) -> HttpResponse:
    run = operable_run(request, project_id, run_id)
    artifact = get_object_or_404(run.artifacts, pk=artifact_id)
    form = TagForm(request.POST)
    if form.is_valid():
        services.tag_artifact(artifact=artifact, actor=request.user, **form.cleaned_data)
        label = ArtifactTagValue(form.cleaned_data["tag"]).label
        messages.success(request, _("%(artifact)s tagged %(tag)s.") % {"artifact": artifact, "tag": label})
    else:
        messages.error(request, form.errors.as_text())
    return redirect("console:run-detail", run.project_id, run.pk)
