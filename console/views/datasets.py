"""Datasets and training configs: lists, create, upload (through the chunked upload API), reports.

Each page shows what the user sees (projects.sharing): another's dataset or config is "not found".
"""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from console.dataset_stats import statistics, token_charts
from console.errors import add_service_error, explain
from console.forms import ConfigUploadForm, DatasetDeidForm, DatasetForm, TokenLengthsForm
from console.lookups import dataset_file_for, dataset_for, visible_configs, visible_datasets
from datasets import services
from datasets.models import CONFIGS_FOLDER, Dataset, DatasetFile, FileStatus, TaskType, TokenLengthsStatus
from datasets.uploads import UPLOAD_FIELD, ReceivedFile, StagingUploadHandler
from datasets.validation import read_records
from deid import services as deid_services
from deid.models import ACTIVE_JOB_STATUSES, DEFAULT_POLICY_NAME, DeidJob
from llmplatform.errors import DomainError

DATASETS_PER_PAGE = 25
PREVIEW_LINES = 20
ACTIVE_FILE_STATUSES = (FileStatus.UPLOADING, FileStatus.VALIDATING)


@login_required
def dataset_list(request: HttpRequest) -> HttpResponse:
    datasets = visible_datasets(request.user).select_related("created_by").prefetch_related("files")
    task_type = request.GET.get("task_type", "")
    if task_type in TaskType.values:
        datasets = datasets.filter(task_type=task_type)
    if text := request.GET.get("q", "").strip():
        datasets = datasets.filter(Q(name__icontains=text) | Q(description__icontains=text))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": Paginator(datasets, DATASETS_PER_PAGE).get_page(request.GET.get("page")),
        "filtered": bool(text or task_type in TaskType.values),
        "task_types": TaskType.choices,
        "task_type": task_type,
        "q": text,
        "query": query.urlencode(),
    }
    return render(request, "datasets/list.html", context)


@login_required
def dataset_create(request: HttpRequest) -> HttpResponse:
    form = DatasetForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            dataset = services.create_dataset(created_by=request.user, **form.cleaned_data)
        except DomainError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Dataset %(name)s created; now upload its files.") % {"name": dataset.name})
            return redirect("console:dataset-detail", dataset.pk)
    return render(request, "datasets/form.html", {"form": form}, status=400 if form.errors else 200)


def dataset_files_context(dataset: Dataset) -> dict:
    files = list(dataset.files.all())
    return {
        "dataset": dataset,
        "files": files,
        "files_changing": any(file.status in ACTIVE_FILE_STATUSES for file in files),
    }


@login_required
def dataset_detail(request: HttpRequest, dataset_id: UUID) -> HttpResponse:
    dataset = dataset_for(request.user, dataset_id)
    context = {
        **dataset_files_context(dataset),
        **deid_jobs_context(request, dataset),
        "can_change": dataset.can_change(request.user),
        "parent_visible": dataset.parent_id is not None
        and visible_datasets(request.user).filter(pk=dataset.parent_id).exists(),
        "deid_form": DatasetDeidForm(initial={"policy": DEFAULT_POLICY_NAME}),
    }
    return render(request, "datasets/detail.html", context)


def deid_jobs_context(request: HttpRequest, dataset: Dataset) -> dict:
    jobs = list(DeidJob.objects.visible_to(request.user).filter(source=dataset).select_related("target")[:20])
    return {"dataset": dataset, "jobs": jobs, "jobs_changing": any(job.status in ACTIVE_JOB_STATUSES for job in jobs)}


@login_required
def dataset_deid_jobs(request: HttpRequest, dataset_id: UUID) -> HttpResponse:
    """The de-identified copies panel alone, refreshed while a job runs."""
    dataset = get_object_or_404(visible_datasets(request.user), pk=dataset_id)
    return render(request, "datasets/_deid_jobs.html", deid_jobs_context(request, dataset))


@login_required
@require_POST
def dataset_deidentify(request: HttpRequest, dataset_id: UUID) -> HttpResponse:
    """Start a job writing a scrubbed copy of every file into a new dataset (deid.services)."""
    dataset = get_object_or_404(visible_datasets(request.user), pk=dataset_id)
    if not dataset.can_change(request.user):
        raise PermissionDenied
    form = DatasetDeidForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors.as_text())
        return redirect("console:dataset-detail", dataset.pk)
    try:
        job = deid_services.start_dataset_deidentification(dataset=dataset, actor=request.user, **form.cleaned_data)
    except DomainError as error:
        messages.error(request, explain(error))
    else:
        messages.success(request, _("De-identification of %(name)s queued.") % {"name": job.target_name})
    return redirect("console:dataset-detail", dataset.pk)


@login_required
def dataset_files(request: HttpRequest, dataset_id: UUID) -> HttpResponse:
    """The files panel alone: refreshed after an upload and while files validate."""
    dataset = get_object_or_404(visible_datasets(request.user).prefetch_related("files"), pk=dataset_id)
    return render(request, "datasets/_files.html", dataset_files_context(dataset))


@login_required
def dataset_file_report(request: HttpRequest, dataset_id: UUID, upload_id: UUID) -> HttpResponse:
    """A file's validation report (line, field, reason) and a page of its parsed records."""
    dataset_file = dataset_file_for(request.user, dataset_id, upload_id)
    try:
        offset = max(int(request.GET.get("offset", 0)), 0)
    except ValueError:
        offset = 0
    records = []
    if dataset_file.status in (FileStatus.READY, FileStatus.INVALID) and dataset_file.absolute_path.is_file():
        records = read_records(
            dataset_file.absolute_path, dataset_file.dataset.task_type, offset=offset, limit=PREVIEW_LINES
        )
    problems_by_line: dict[int, list[dict]] = {}
    for problem in dataset_file.errors:
        problems_by_line.setdefault(problem["line"], []).append(problem)
    for item in records:
        item["problems"] = problems_by_line.get(item["line"], [])
    context = {
        **token_lengths_context(dataset_file),
        "dataset": dataset_file.dataset,
        "statistics": statistics(dataset_file.stats),
        "records": records,
        "offset": offset,
        "previous_offset": max(offset - PREVIEW_LINES, 0) if offset else None,
        "next_offset": offset + PREVIEW_LINES if len(records) == PREVIEW_LINES else None,
    }
    return render(request, "datasets/file.html", context)


def token_lengths_context(dataset_file: DatasetFile) -> dict:
    measurements = list(dataset_file.token_lengths.select_related("dataset_file"))
    last_model = measurements[0].model if measurements else ""
    return {
        "file": dataset_file,
        "measurements": [(lengths, token_charts(lengths)) for lengths in measurements],
        "measuring": any(lengths.status == TokenLengthsStatus.MEASURING for lengths in measurements),
        "token_lengths_form": TokenLengthsForm(initial={"model": last_model}),
    }


@login_required
def dataset_file_token_lengths(request: HttpRequest, dataset_id: UUID, upload_id: UUID) -> HttpResponse:
    """GET: the token lengths panel alone, refreshed while a worker measures. POST: measure with a model's tokenizer."""
    dataset_file = dataset_file_for(request.user, dataset_id, upload_id)
    if request.method != "POST":
        return render(request, "datasets/_token_lengths.html", token_lengths_context(dataset_file))
    form = TokenLengthsForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors.as_text())
    else:
        try:
            services.measure_token_lengths(
                dataset_file=dataset_file, model=form.cleaned_data["model"], actor=request.user
            )
        except DomainError as error:
            messages.error(request, explain(error))
    return redirect(reverse("console:dataset-file", args=[dataset_id, upload_id]) + "#token-lengths")


@login_required
def config_list(request: HttpRequest) -> HttpResponse:
    context = {"configs": visible_configs(request.user)[:200], "form": ConfigUploadForm(user=request.user)}
    return render(request, "datasets/configs.html", context)


@login_required
def config_detail(request: HttpRequest, config_id: UUID) -> HttpResponse:
    config = get_object_or_404(visible_configs(request.user), pk=config_id)
    return render(request, "datasets/config.html", {"config": config})


@csrf_exempt  # the CSRF check runs below, once the upload handler is in place
@login_required
def config_upload(request: HttpRequest) -> HttpResponse:
    """Upload a training YAML; it streams to a staged file (datasets.uploads), never into memory."""
    if request.method == "POST":
        staging = services.staging_directory(CONFIGS_FOLDER)
        request.upload_handlers = [StagingUploadHandler(directory=staging, limit=settings.MAX_YAML_BYTES)]
    return _config_upload(request)


@csrf_protect
def _config_upload(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("console:config-list")
    form = ConfigUploadForm(request.POST, user=request.user)
    received = request.FILES.get(UPLOAD_FIELD)
    problems: list[str] = []
    if not isinstance(received, ReceivedFile):
        form.add_error(None, _("Choose a .yaml file of at most %(limit)s bytes.") % {"limit": settings.MAX_YAML_BYTES})
    else:
        with received.staged:  # kept only once published: a refused form leaves nothing behind
            if form.is_valid():
                try:
                    config = services.upload_train_config(
                        staged=received.staged,
                        filename=received.name,
                        created_by=request.user,
                        make_current=form.cleaned_data["current"],
                        task_type=form.cleaned_data["task_type"] or None,
                        project=form.cleaned_data["project"],
                    )
                except DomainError as error:
                    add_service_error(form, error)
                    problems = error.fields.get("errors", [])
                else:
                    messages.success(request, _("Training config %(name)s uploaded.") % {"name": config.filename})
                    return redirect("console:config-detail", config.pk)
    context = {"configs": visible_configs(request.user)[:200], "form": form, "problems": problems}
    return render(request, "datasets/configs.html", context, status=400)
