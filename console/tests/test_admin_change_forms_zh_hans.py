"""The admin's change forms and lists of datasets, de-identification, deployments and notifications, and the
pages of the installed packages (django-axes' logins, django-q2's tasks), read in Chinese: none of the English
their models' fields, help texts and their admins' own columns, filters and names were given is left on them."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.conf import settings
from django.contrib.admin import SimpleListFilter, site
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.admin.utils import label_for_field
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import capfirst
from django_q.models import Failure, OrmQ, Schedule, Success
from django_q.signing import SignedPackage

from console.tests.test_zh_hans_pages import words_in
from datasets.models import Dataset, DatasetFile, FileStatus, TokenLengths, TrainConfig, ValidatedPiece
from deid.models import DeidJob, DeidPolicy
from deployments.models import Deployment, DeploymentStatus, DeploymentTag
from llmplatform.sentences import po_entries
from notifications.models import Delivery, Subscription

pytestmark = pytest.mark.django_db

APPS = ("datasets", "deid", "deployments", "notifications")
PACKAGES = ("axes", "django_q")
# Labels that read the same in Chinese.
KEPT = {"ID", "URL", "Cron"}


def labels_text(html: str) -> str:
    """What a page names, without what it holds: table rows, read-only values and text areas are data."""
    html = re.sub(r"<(script|style|tbody|textarea)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<div class="readonly">.*?</div>', " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def english_names(model: type[Model], model_admin: BaseModelAdmin) -> set[str]:
    """The English a model's admin pages are made of: its names, its fields' names and help texts, and what its
    admin adds (computed columns and read-only fields, filters', fieldsets' and actions' titles), with its inlines'
    own."""
    field_names = {field.name for field in model._meta.concrete_fields}
    computed = [
        name
        for name in [*getattr(model_admin, "list_display", ()), *model_admin.readonly_fields]
        if isinstance(name, str) and name not in field_names
    ]
    with translation.override("en"):
        names = {str(model._meta.verbose_name), str(model._meta.verbose_name_plural)}
        names |= {str(field.verbose_name) for field in model._meta.concrete_fields}
        names |= {str(field.help_text) for field in model._meta.concrete_fields if field.help_text}
        names |= {str(label_for_field(name, model, model_admin)) for name in computed}
        names |= {
            str(each.title)
            for each in getattr(model_admin, "list_filter", ())
            if isinstance(each, type) and issubclass(each, SimpleListFilter)
        }
        names |= {str(title) for title, _options in model_admin.fieldsets or () if title}
        actions = [
            getattr(model_admin, each) if isinstance(each, str) else each
            for each in getattr(model_admin, "actions", None) or ()
        ]
        names |= {str(action.short_description) for action in actions}
        for inline in getattr(model_admin, "inlines", ()):
            names |= english_names(inline.model, inline(model, site))
    return {capfirst(name) for name in names} - KEPT


def read_in_chinese(session: Client, url: str) -> str:
    response = session.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200, url
    text = labels_text(response.content.decode())
    assert re.search(r"[\u4e00-\u9fff]", text), url
    return text


def admin_url(obj: Model, page: str) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{page}", args=[obj.pk] if page == "change" else [])


@pytest.fixture
def platform_records(owner, project) -> list[Model]:
    """One record of each model of these apps that the admin lists, each with a row of each of its inlines."""
    dataset = Dataset.objects.create(name="qwen-sft", task_type="sft", created_by=owner, project=project)
    dataset_file = DatasetFile.objects.create(
        dataset=dataset,
        name="train.jsonl",
        stored_name="train.jsonl",
        relative_path="datasets/train.jsonl",
        status=FileStatus.READY,
        bytes=120,
        records=3,
        created_by=owner,
    )
    ValidatedPiece.objects.create(
        dataset_file=dataset_file, start=0, end=60, report={"records": 2, "error_count": 0}, tallies={}
    )
    TokenLengths.objects.create(dataset_file=dataset_file, model="qwen", tokenizer_path="qwen/tokenizer.json")
    config = TrainConfig.objects.create(
        filename="sft.yaml",
        stored_name="sft.yaml",
        relative_path="configs/sft.yaml",
        size=20,
        content="task_type: sft\n",
        task_type="sft",
        created_by=owner,
    )
    policy = DeidPolicy.objects.get(name="default")
    job = DeidJob.objects.create(
        source=dataset,
        policy=policy,
        policy_version=policy.current,
        policy_name=policy.name,
        policy_version_label=policy.current.label,
        target_name="qwen-sft-deid",
        created_by=owner,
    )
    deployment = Deployment.objects.create(
        created_by=owner, status=DeploymentStatus.FAILED, model_path="qwen", served_model_name="qwen-chat"
    )
    DeploymentTag.objects.create(deployment=deployment, value="canary")
    subscription = Subscription.objects.create(project=project, url="https://hooks.example.test/llmp")
    delivery = Delivery.objects.create(subscription=subscription, event="run.started")
    return [dataset, dataset_file, config, policy, job, deployment, subscription, delivery]


@pytest.fixture
def package_records() -> list[Model]:
    """One record of each model of django-axes and django-q2 the admin lists."""
    now = timezone.now()
    visitor = {"user_agent": "curl/8", "ip_address": "10.0.0.7", "username": "mallory", "path_info": "/admin/login/"}
    task = {"id": "0" * 32, "name": "purge-uploads", "func": "math.floor", "started": now, "stopped": now}
    package: dict[str, object] = {
        "id": "1" * 32,
        "name": "validate",
        "func": "math.floor",
        "args": (1.5,),
        "kwargs": {},
        "group": None,
    }
    return [
        AccessAttempt.objects.create(**visitor, http_accept="*/*", get_data="", post_data="", failures_since_start=3),
        AccessLog.objects.create(**visitor, http_accept="*/*"),
        AccessFailureLog.objects.create(**visitor, http_accept="*/*", locked_out=True),
        Schedule.objects.create(name="purge", func="math.floor", schedule_type=Schedule.HOURLY),
        Success.objects.create(**task, success=True),
        Failure.objects.create(**{**task, "id": "2" * 32}, success=False, result="ValueError"),
        OrmQ.objects.create(key="llmplatform", payload=SignedPackage.dumps(package), lock=now),
    ]


def listed_models(app_labels: tuple[str, ...]) -> set[type[Model]]:
    return {model for model in site._registry if model._meta.app_label in app_labels}


def pages_of(records: list[Model]) -> dict[str, set[str]]:
    """Each record's change form and its model's list, with the English either may not show."""
    pages = {}
    for record in records:
        model = type(record)
        names = english_names(model, site.get_model_admin(model))
        pages[admin_url(record, "change")] = pages[admin_url(record, "changelist")] = names
    return pages


def test_it_names_every_field_of_these_apps_for_translation():
    """A field given no verbose name is named in English in every language."""
    untranslatable = [
        f"{model.__name__}.{field.name}"
        for app in APPS
        for model in apps.get_app_config(app).get_models()
        for field in model._meta.concrete_fields
        if not field.auto_created and isinstance(field.verbose_name, str)
    ]
    assert untranslatable == []


def test_it_reads_these_apps_change_forms_and_lists_in_chinese(admin, platform_records):
    pages = pages_of(platform_records)

    found = {url: words_in(names, read_in_chinese(admin, url)) for url, names in pages.items()}

    assert {type(record) for record in platform_records} == listed_models(APPS)
    assert "Served model name" in pages[admin_url(platform_records[5], "change")]
    assert "Relative to HOST_TRAINING_DIR." in pages[admin_url(platform_records[1], "change")]
    assert "Send the selected deliveries again" in pages[admin_url(platform_records[7], "changelist")]
    assert {url: english for url, english in found.items() if english} == {}


def test_it_reads_the_packages_admin_pages_in_chinese(admin, package_records):
    pages = pages_of(package_records)

    found = {url: words_in(names, read_in_chinese(admin, url)) for url, names in pages.items()}
    index = read_in_chinese(admin, reverse("admin:index"))

    assert {type(record) for record in package_records} == listed_models(PACKAGES)
    assert {"Failed Logins", "Form Data"} <= pages[admin_url(package_records[0], "change")]
    assert "Status" in pages[admin_url(package_records[0], "changelist")]  # a column its admin computes
    assert {url: english for url, english in found.items() if english} == {}
    assert "登录防护" in index and "后台任务" in index and "Axes" not in index and "Django Q" not in index


def test_it_ships_a_compiled_catalog_of_the_packages_messages():
    """The packages' messages are translated by hand, outside what `make messages` rewrites."""
    folder = Path(settings.LOCALE_PATHS[1]) / "zh_Hans" / "LC_MESSAGES"
    entries = po_entries(folder / "django.po")
    with translation.override("zh-hans"):
        untranslated = [msgid for msgid, msgstr in entries.items() if translation.gettext(msgid) != msgstr]
    assert [msgid for msgid, msgstr in entries.items() if not msgstr] == []
    assert untranslated == [] and (folder / "django.mo").is_file()
