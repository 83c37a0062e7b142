"""The console in Chinese: every page a person walks through reads in Chinese, with no
sentence left in English that the catalog translates, nor a known English one."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from audit.services import record_event
from console.tests.test_translations import po_entries
from datasets import services as dataset_services
from projects.models import ProjectVersion

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


def visible_text(html: str) -> str:
    """What the page says: no scripts, styles, tags or attribute values."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def catalog_sentences() -> list[str]:
    """English sentences the zh_Hans catalog translates into something else (no placeholders)."""
    entries = po_entries(Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES" / "django.po")
    return [
        msgid
        for msgid, msgstr in entries.items()
        if msgstr != msgid and " " in msgid and len(msgid) >= 12 and "%" not in msgid and "{" not in msgid
    ]


@pytest.fixture
def console_pages(owner, project, tmp_path) -> list[str]:
    dataset = dataset_services.create_dataset(name="qwen-sft", task_type="sft", created_by=owner, project=project)
    source = tmp_path / "train.jsonl"
    source.write_text(json.dumps(GOOD) + "\n{oops\n", encoding="utf-8")
    stored = dataset_services.add_file_from_path(
        dataset=dataset, source_path=source, filename="train.jsonl", created_by=owner
    )
    ProjectVersion.objects.create(project=project, version=2, changes={"tags": [["demo"], ["demo", "zh"]]})
    record_event(actor=owner, action="update", target=project, changes={"tags": [["demo"], ["demo", "zh"]]})
    return [
        reverse("console:dashboard"),
        reverse("console:project-list"),
        reverse("console:project-create"),
        reverse("console:project-detail", args=[project.pk]),
        reverse("console:project-edit", args=[project.pk]),
        reverse("console:dataset-list"),
        reverse("console:dataset-list") + "?q=none",
        reverse("console:dataset-create"),
        reverse("console:dataset-detail", args=[dataset.pk]),
        reverse("console:dataset-file", args=[dataset.pk, stored.pk]),
        reverse("console:config-list"),
        reverse("console:deployment-list"),
        reverse("console:deployment-create"),
        reverse("console:deid"),
        reverse("console:audit"),
        reverse("console:api-token"),
    ]


def test_it_reads_every_console_page_in_chinese(owner, staff_session, console_pages, settings):
    settings.GPU_IDS = ""  # the deployment form then says why Start is off
    english = [*KNOWN_ENGLISH, *catalog_sentences()]
    found = {}
    for url in console_pages:
        response = staff_session.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 200, url
        text = visible_text(response.content.decode())
        assert "数据集" in text or "项目" in text, url  # the page did switch language
        if left := [sentence for sentence in english if sentence in text]:
            found[url] = left
    assert found == {}
