"""The console in Chinese: every page a person walks through reads in Chinese, error states
included (a dataset that failed validation, a refused launch, a queued, stalled or retried
run), with no English sentence of the catalog left on it, nor a known English one."""

from __future__ import annotations

import ast
import json
import re
import string
from collections.abc import Callable, Iterable
from html import unescape
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.admin import ModelAdmin, site
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.admin.utils import flatten_fieldsets, help_text_for_field, label_for_field
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from django.forms import ModelForm
from django.forms.utils import pretty_name
from django.http import HttpRequest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import capfirst

from audit.models import AuditAction
from audit.services import record_event
from console.models import RunTableColumns
from console.tests.conftest import add_log
from console.tests.test_configs import SFT_YAML
from datasets import services as dataset_services
from datasets.models import TrainConfig
from deid import services as deid_services
from deid.models import DeidPolicy
from deployments.models import Deployment, DeploymentStatus
from gpus.models import GpuClaim, HolderKind
from gpus.services import waiting_for
from llmplatform.models import SupervisorLease
from llmplatform.sentences import po_entries
from llmplatform.testing import platform_app_configs, platform_models
from notifications.models import Delivery, EventName, Subscription
from projects.models import ProjectVersion
from retention.models import RetentionPolicy
from runs import healing
from runs.models import Run, RunStatus
from runs.scheduling import dispatch_queued_runs

pytestmark = pytest.mark.django_db

# Sentences people met in English on the Chinese console.
KNOWN_ENGLISH = [
    "No dataset matches.",
    "There are no datasets yet.",
    "Uploaded.",
    "records, no errors",
    "Valid records",
    "Statistics",
    "Configuration versions",
    "Before",
    "After",
    "Try it",
    "Audit log",
    "logged in",
    "API token",
    "Rotate the token",
    "This host has no GPU",
    "Dataset file",
]
GOOD = {"messages": [{"role": "user", "content": "指令"}, {"role": "assistant", "content": "回答"}]}
# One line of each kind a dataset check refuses, and a good one.
DATASET_LINES = [
    json.dumps(GOOD),
    "{oops",
    "[1, 2]",
    "",
    json.dumps({"messages": [{"role": "assistant", "content": "先回答"}, {"role": "user", "content": ""}]}),
    json.dumps({"messages": "你好", "task_tags": "x"}),
    json.dumps({"messages": [{"role": "robot", "content": "嗨"}, 3], "metadata": []}),
]
# A training YAML with a problem in each of its keys, and one that is no YAML at all.
BAD_YAML = b"task_type: sft\nmodel_name_or_path: ''\nlearning_rate: -1\nnum_train_epochs: lots\n"
BROKEN_YAML = b"task_type: [sft\n"
# Documents PyYAML refuses at each of its stages: scanning, parsing, composing and constructing.
MALFORMED_YAMLS = [
    BROKEN_YAML,
    b"task_type: sft\n  model_name_or_path: qwen\n",
    b"task_type: @sft\n",
    b"task_type: sft\nmodel_name_or_path\n",
    b"{task_type: sft, model_name_or_path: [qwen}\n",
    b'task_type: "s\\qft"\n',
    b"task_type: !mine!sft x\n",
    b"task_type: *sft\n",
    b"task_type: sft\n---\nmodel_name_or_path: qwen\n",
    b"task_type: !!python/name:os.system x\n",
]
STALL_REASON = "no new step for 612 s (after step 40) with its GPUs at 0%"
# The apps whose admin forms must name their fields in Chinese.
ADMIN_FORM_APPS = [
    "llmplatform",
    "audit",
    "gpus",
    "projects",
    "runs",
    "retention",
    "console",
    "datasets",
    "deid",
    "deployments",
    "notifications",
]


def visible_text(html: str) -> str:
    """What the page says: no scripts, styles, tags or attribute values."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def catalog() -> dict[str, str]:
    return po_entries(Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES" / "django.po")


def english_sentences() -> list[str]:
    """The English the zh_Hans catalog translates into something else: every plain sentence, and the
    fixed text of every template (`"No project {reference!r}."`) between its placeholders, where
    it is long enough to be a sentence and the translation does not keep it (a setting's name)."""
    return sentences_of(catalog())


def admin_catalog() -> dict[str, str]:
    """The zh_Hans catalog's messages made by the admin's own code and templates (an admin.py, templates/admin/)."""
    path = Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES" / "django.po"
    entries = catalog()
    found = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = block.splitlines()
        references = " ".join(line for line in lines if line.startswith("#:"))
        if re.search(r"\badmin\.py:|templates/admin/", references) and (msgid := msgid_of(lines)) in entries:
            found[msgid] = entries[msgid]
    return found


def msgid_of(lines: list[str]) -> str:
    """The msgid of one catalog entry, whose text may go on over the quoted lines after it."""
    text, reading = "", False
    for line in lines:
        if line.startswith("msgid "):
            text, reading = ast.literal_eval(line.removeprefix("msgid ")), True
        elif reading and line.startswith('"'):
            text += ast.literal_eval(line)
        else:
            reading = False
    return text


def sentences_of(entries: dict[str, str]) -> list[str]:
    found = []
    for msgid, msgstr in entries.items():
        if msgstr == msgid:
            continue
        if "{" not in msgid and "%" not in msgid:
            pieces = [msgid]
        elif "%" in msgid:
            pieces = re.split(r"%\(\w+\)[sdrf]|%[sd]", msgid)
        else:
            pieces = [literal for literal, *_ in string.Formatter().parse(msgid)]
        found += [piece.strip() for piece in pieces if _sentence_like(piece.strip()) and piece.strip() not in msgstr]
    return found


def _sentence_like(text: str) -> bool:
    return len(text) >= 12 and text.count(" ") >= 2 and any(char.isalpha() for char in text)


def english_left(text: str) -> list[str]:
    return [sentence for sentence in [*KNOWN_ENGLISH, *english_sentences()] if sentence in text]


def labels_text(html: str) -> str:
    """What a page says besides its tables' rows: headings, links, column names, buttons."""
    return visible_text(re.sub(r"<tbody\b.*?</tbody>", " ", html, flags=re.S))


def read_in_chinese(session, url: str, expected_status: int = 200, text_of: Callable[[str], str] = visible_text) -> str:
    response = session.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == expected_status, url
    return text_of(response.content.decode())


def read_pages_in_chinese(session, urls: list[str], text_of: Callable[[str], str] = visible_text) -> dict[str, str]:
    """What each page says, read in Chinese; every page must have switched language."""
    texts = {url: read_in_chinese(session, url, text_of=text_of) for url in urls}
    assert [url for url, text in texts.items() if not re.search(r"[\u4e00-\u9fff]", text)] == []
    return texts


def pages_with(texts: dict[str, str], english_in: Callable[[str], list[str]]) -> dict[str, list[str]]:
    """The English `english_in` finds on each page, for the pages where it finds some."""
    return {url: found for url, text in texts.items() if (found := english_in(text))}


def platform_names() -> list[str]:
    """How the admin names the platform's apps and models in English: headings, links and titles (an app,
    "Dataset files", "Select dataset file to change")."""
    with translation.override("en"):
        names = {str(config.verbose_name) for config in platform_app_configs()}
        for model in platform_models():
            names |= {capfirst(str(model._meta.verbose_name)), capfirst(str(model._meta.verbose_name_plural))}
            names |= {str(model._meta.verbose_name), str(model._meta.verbose_name_plural)}
    return sorted(names)


def english_columns(model: type[Model], model_admin: ModelAdmin) -> list[str]:
    """The English names of the columns of a model's changelist: its fields' names, or what its admin calls them."""
    with translation.override("en"):
        return [capfirst(str(label_for_field(name, model, model_admin))) for name in model_admin.list_display]


def words_in(names: Iterable[str], text: str) -> list[str]:
    """The `names` that `text` holds as words of a sentence: a run named `run-001` says no "run"."""
    return [name for name in names if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)]


def platform_names_in(text: str) -> list[str]:
    return words_in(platform_names(), text)


def changelist(model: type[Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def form_text(html: str) -> str:
    """What an admin form says besides what its object holds and the navigation around it: labels,
    titles, help texts, buttons."""
    html = re.sub(r"<(textarea|select|nav)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<div class="(readonly|breadcrumbs)">.*?</div>|<title>.*?</title>', " ", html, flags=re.S)
    return visible_text(html)


def form_names(model_admin: ModelAdmin, request: HttpRequest, obj: Model | None) -> list[str]:
    """What the admin's form of `obj` (None: the add form) and its inlines show in English: fieldsets'
    titles and descriptions, fields' labels (capitalised, as the admin shows them) and help texts; less
    what the Chinese catalog keeps as it is ("ID")."""
    labels, texts = [], []
    with translation.override("en"):
        inlines = model_admin.get_inline_instances(request, obj)
        forms: list[tuple[BaseModelAdmin, type[ModelForm]]] = [(model_admin, model_admin.get_form(request, obj))]
        forms += [(inline, inline.get_formset(request, obj).form) for inline in inlines]
        for each, form in forms:
            fieldsets = each.get_fieldsets(request, obj)
            texts += [str(title) for title, _options in fieldsets if title]
            texts += [str(options.get("description") or "") for _title, options in fieldsets]
            for name in flatten_fieldsets(fieldsets):
                label, help_text = field_label_and_help(name, each, form)
                labels.append(label)
                texts.append(help_text)
    kept = catalog()
    shown = [capfirst(label) for label in labels if kept.get(label) != label]
    shown += [text for text in texts if kept.get(text) != text]
    return sorted({each for each in shown if each})


def field_label_and_help(name: str, model_admin: BaseModelAdmin, form: type[ModelForm]) -> tuple[str, str]:
    """The label and help of a field of an admin form: its model's field's, its admin's, or its form's own."""
    try:
        label = label_for_field(name, model_admin.model, model_admin)
    except AttributeError:  # a field of the form alone
        field = form.base_fields[name]
        return str(field.label or pretty_name(name)), str(field.help_text)
    return str(label), str(help_text_for_field(name, model_admin.model))


def admin_form_pages(app_label: str, request: HttpRequest) -> dict[str, list[str]]:
    """The change form of an object of each model of the app the admin shows, and its add form
    where the admin allows adding one, with the English names each form would show."""
    pages = {}
    for model, model_admin in site._registry.items():
        if model._meta.app_label != app_label:
            continue
        obj = model._default_manager.first()
        assert obj is not None, model
        prefix = f"admin:{app_label}_{model._meta.model_name}"
        pages[reverse(f"{prefix}_change", args=[obj.pk])] = form_names(model_admin, request, obj)
        if model_admin.has_add_permission(request):
            pages[reverse(f"{prefix}_add")] = form_names(model_admin, request, None)
    return pages


@pytest.fixture
def failed_dataset_file(owner, project, tmp_path):
    dataset = dataset_services.create_dataset(name="qwen-sft", task_type="sft", created_by=owner, project=project)
    source = tmp_path / "train.jsonl"
    source.write_text("\n".join(DATASET_LINES) + "\n", encoding="utf-8")
    stored = dataset_services.add_file_from_path(
        dataset=dataset, source_path=source, filename="train.jsonl", created_by=owner
    )
    return dataset, stored


@pytest.fixture
def healed_runs(run, project, owner):
    """A stalled run, a retried one and one preempted, with the reasons the platform gives them."""
    Run.objects.filter(pk=run.pk).update(
        stalled_since=timezone.now(),
        stall_reason=STALL_REASON,
    )
    failed = Run.objects.create(project=project, name="run-002", status=RunStatus.FAILED, created_by=owner)
    retry = Run.objects.create(project=project, name="run-002-attempt-2", retry_of=failed, attempt=2)
    Run.objects.filter(pk=failed.pk).update(
        retry_reason="retried as run run-002-attempt-2 (attempt 2) from the start (no complete checkpoint)"
    )
    Run.objects.filter(pk=retry.pk).update(
        status=RunStatus.FAILED, retry_reason="not retried: it failed before its first step twice in a row"
    )
    preempted = Run.objects.create(
        project=project,
        name="run-003",
        status=RunStatus.QUEUED,
        created_by=owner,
        queue_reason=healing.preempted_note(
            "checkpoint-40", waiting_for(count=2, gpu_type="A100", free=0, candidates=1)
        ),
    )
    return [run, failed, retry, preempted]


@pytest.fixture
def console_pages(owner, project, run, healed_runs, failed_dataset_file, owner_session) -> list[str]:
    dataset, stored = failed_dataset_file
    ProjectVersion.objects.create(project=project, version=2, changes={"tags": [["demo"], ["demo", "zh"]]})
    record_event(actor=owner, action="update", target=project, changes={"tags": [["demo"], ["demo", "zh"]]})
    record_event(actor=None, action=AuditAction.ACTION, target=run, verb="stall", changes={"reason": STALL_REASON})
    config_upload = {"file": SimpleUploadedFile("sft.yaml", SFT_YAML)}
    owner_session.post(reverse("console:config-upload"), config_upload)
    config = TrainConfig.objects.get()
    deployment = Deployment.objects.create(
        created_by=owner,
        status=DeploymentStatus.FAILED,
        model_path="qwen",
        served_model_name="qwen",
        status_detail="The server exited by itself with exit code 127.",
    )
    add_log(run, ("INFO", "第 40 步"))
    run_pages = [
        reverse(f"console:{name}", args=[each.project_id, each.pk])
        for each in healed_runs
        for name in ("run-detail", "run-status", "run-logs", "run-artifacts")
    ]
    return [
        reverse("console:dashboard"),
        reverse("console:queue"),
        reverse("console:project-list"),
        reverse("console:project-create"),
        reverse("console:project-detail", args=[project.pk]),
        reverse("console:project-edit", args=[project.pk]),
        reverse("console:webhooks", args=[project.pk]),
        *run_pages,
        reverse("console:compare") + "?" + "&".join(f"runs={each.pk}" for each in healed_runs[:2]),
        reverse("console:dataset-list"),
        reverse("console:dataset-list") + "?q=none",
        reverse("console:dataset-create"),
        reverse("console:dataset-detail", args=[dataset.pk]),
        reverse("console:dataset-files", args=[dataset.pk]),
        reverse("console:dataset-file", args=[dataset.pk, stored.pk]),
        reverse("console:dataset-deid-jobs", args=[dataset.pk]),
        reverse("console:config-list"),
        reverse("console:deployment-list"),
        reverse("console:deployment-create"),
        reverse("console:deployment-detail", args=[deployment.pk]),
        reverse("console:deployment-status", args=[deployment.pk]),
        reverse("console:deid"),
        reverse("console:audit"),
        reverse("console:config-detail", args=[config.pk]),
        reverse("console:api-token"),
    ]


def test_it_reads_every_console_page_in_chinese(console_pages, staff_session, settings):
    settings.GPU_IDS = ""  # the deployment form then says why Start is off

    texts = read_pages_in_chinese(staff_session, console_pages)

    assert pages_with(texts, english_left) == {}


def test_it_shows_a_dataset_files_validation_reasons_in_chinese(owner_session, failed_dataset_file):
    dataset, stored = failed_dataset_file
    text = read_in_chinese(owner_session, reverse("console:dataset-file", args=[dataset.pk, stored.pk]))
    assert stored.error_count >= 8
    assert "不是有效的 JSON" in text  # the parser's own reason, and its message, in Chinese
    assert "must be" not in text and "not valid JSON" not in text and "Expecting" not in text
    assert english_left(text) == []


def test_it_explains_a_refused_launch_in_chinese(owner_session, project, training_dir):
    project.trainer = "llamafactory-0.9.x"
    project.save(update_fields=["trainer"])
    hyperparameters = {"learning_rate": 0, "lerning_rate": 1e-5, "lr_scheduler_type": "sometimes"}
    response = owner_session.post(
        reverse("console:run-create", args=[project.pk]),
        {"gpu_count": 0, "priority": 0, "hyperparameters": json.dumps(hyperparameters)},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    text = visible_text(response.content.decode())
    assert response.status_code == 400
    assert "'lerning_rate'" in text and "'learning_rate'" in text  # the keys, named as written
    assert "did you mean" not in text and "must be" not in text
    assert english_left(text) == []


def test_it_explains_a_launch_without_its_files_in_chinese(owner_session, project, training_dir):
    (training_dir / project.dataset_name).unlink()
    response = owner_session.post(
        reverse("console:run-create", args=[project.pk]),
        {"gpu_count": 0, "priority": 0},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    text = visible_text(response.content.decode())
    assert response.status_code == 400
    assert project.dataset_name in text and "Not found" not in text
    assert english_left(text) == []


def test_it_explains_a_refused_training_config_in_chinese(owner_session):
    for content in (BAD_YAML, BROKEN_YAML):
        response = owner_session.post(
            reverse("console:config-upload"),
            {"file": SimpleUploadedFile("sft.yaml", content)},
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )
        text = visible_text(response.content.decode())
        assert response.status_code == 400
        assert english_left(text) == [], content


@pytest.mark.parametrize("content", MALFORMED_YAMLS)
def test_it_gives_the_yaml_parsers_reasons_in_chinese(owner_session, content):
    response = owner_session.post(
        reverse("console:config-upload"),
        {"file": SimpleUploadedFile("sft.yaml", content)},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    text = visible_text(response.content.decode())
    assert response.status_code == 400
    assert "不是有效的 YAML" in text and re.search(r"第 \d+ 行", text)  # the reason, and where, in Chinese
    assert "(line" not in text and "while " not in text
    assert english_left(text) == []


def test_it_reads_the_admins_pages_and_messages_in_chinese(admin, owner, run, failed_dataset_file):
    _dataset, stored = failed_dataset_file
    deployment = Deployment.objects.create(
        created_by=owner, status=DeploymentStatus.RUNNING, model_path="qwen", served_model_name="qwen-chat"
    )
    pages = [
        reverse("admin:deployments_deployment_changelist"),
        reverse("admin:deployments_deployment_add"),
        reverse("admin:deployments_deployment_change", args=[deployment.pk]),
        reverse("admin:notifications_delivery_changelist"),
        reverse("admin:runs_run_change", args=[run.pk]),
        reverse("admin:datasets_datasetfile_change", args=[stored.pk]),
        reverse("admin:deid_deidpolicy_add"),
    ]
    admins_own = sentences_of(admin_catalog())
    texts = read_pages_in_chinese(admin, pages)

    stopped = admin.post(
        reverse("admin:deployments_deployment_changelist"),
        {"action": "stop_deployments", "_selected_action": [str(deployment.pk)]},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
        follow=True,
    )

    assert "Stop the selected deployments (SIGTERM)" in admins_own  # the actions' names are the admin's
    assert pages_with(texts, lambda text: [each for each in admins_own if each in text]) == {}
    assert "停止所选部署" in texts[pages[0]] and "进度" in texts[pages[4]]
    text = visible_text(stopped.content.decode())
    assert f"({str(deployment.pk)[:8]}) 已停止。" in text and "stopped." not in text


def test_it_names_the_admins_apps_models_and_columns_in_chinese(admin, console_pages):
    columns = {
        changelist(model): english_columns(model, model_admin)
        for model, model_admin in site._registry.items()
        if model in platform_models()
    }

    pages = [reverse("admin:index"), *(changelist(model) for model in site._registry)]
    texts = read_pages_in_chinese(admin, pages, text_of=labels_text)  # the rows are data, named as people named it

    assert "Dataset files" in platform_names() and "Audit log" in platform_names()
    assert "Served model name" in columns[changelist(Deployment)]
    assert pages_with(texts, platform_names_in) == {}
    assert {url: found for url, names in columns.items() if (found := words_in(names, texts[url]))} == {}


@pytest.fixture
def one_of_each_model(console_pages, owner, project, run, failed_dataset_file) -> None:
    """An object of every model the admin shows: the console's pages made most of them."""
    dataset, _stored = failed_dataset_file
    SupervisorLease.objects.create(name="runs@gpu-host-1", lease_owner="gpu-host-1:4242")
    GpuClaim.objects.create(gpu_index=0, holder_kind=HolderKind.RUN, holder_id=str(run.pk), holder_label=run.name)
    RetentionPolicy.objects.create(project=project, keep_last=2, keep_best=1, best_metric="eval/loss")
    RunTableColumns.objects.create(user=owner, project=project, columns=["hp:learning_rate", "m:loss"])
    deid_services.start_dataset_deidentification(
        dataset=dataset, policy=DeidPolicy.objects.get(name="default"), seed=7, actor=owner
    )
    webhook = Subscription.objects.create(project=project, url="https://hooks.example.com/llmp", created_by=owner)
    Delivery.objects.create(subscription=webhook, event=EventName.RUN_FAILED, payload={"event": "run.failed"})


def test_it_walks_the_forms_of_every_app_the_admin_shows():
    shown = {model._meta.app_label for model in site._registry if model in platform_models()}
    assert sorted(ADMIN_FORM_APPS) == sorted(shown)


@pytest.mark.parametrize("app_label", ADMIN_FORM_APPS)
def test_it_names_the_admins_form_fields_in_chinese(app_label, admin, staff, one_of_each_model):
    request = RequestFactory().get("/")
    request.user = staff
    english = admin_form_pages(app_label, request)

    texts = read_pages_in_chinese(admin, list(english), text_of=form_text)

    assert english and all(english.values())
    assert {url: found for url, names in english.items() if (found := words_in(names, texts[url]))} == {}


def test_it_shows_why_a_run_waits_in_chinese(owner_session, project, settings):
    settings.GPU_IDS = "0,1"
    GpuClaim.objects.create(gpu_index=0, holder_kind=HolderKind.DEPLOYMENT, holder_id="a model server")
    launched = owner_session.post(reverse("console:run-create", args=[project.pk]), {"gpu_count": 2, "priority": 0})
    dispatch_queued_runs()

    text = read_in_chinese(owner_session, launched["Location"])

    assert Run.objects.get().queue_reason == "waiting for 2 GPU(s), 1 free of 2"  # the API's words stay
    assert "waiting for" not in text
    assert english_left(text) == []


def test_it_explains_a_refused_action_in_chinese(owner_session, run):
    Run.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)
    response = owner_session.post(
        reverse("console:run-cancel", args=[run.project_id, run.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans", follow=True
    )
    text = visible_text(response.content.decode())
    assert "only queued or running runs can be cancelled" not in text
    assert english_left(text) == []
