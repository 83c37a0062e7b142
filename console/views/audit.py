"""The audit log, for staff: who did what to which object, through which door.

Objects read as people name them (a translated kind, the name without the stored file's
UUID prefix) and link to their console page while they exist; the sentences an event's changes
hold (a stall reason, a refusal) read in the reader's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from audit.models import DOORS, AuditEvent, door_name, object_type_name, verb_name
from datasets.models import Dataset, DatasetFile, TrainConfig
from deployments.models import Deployment
from llmplatform.sentences import translate
from projects.models import Project
from runs.models import Run

EVENTS_PER_PAGE = 50
# The kinds of objects the log's filter offers.
OBJECT_TYPES = [
    "projects.project",
    "projects.projectversion",
    "runs.run",
    "runs.artifact",
    "runs.artifacttag",
    "datasets.dataset",
    "datasets.datasetfile",
    "datasets.trainconfig",
    "deployments.deployment",
    "gpus.gpuclaim",
    "deid.deidpolicy",
    "deid.deidjob",
    "auth.user",
]
# Stored files are named `<uuid>_<name>`: people know them by the name.
STORED_PREFIX = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}_", re.IGNORECASE)


@dataclass(frozen=True)
class EventRow:
    event: AuditEvent
    object_type: str
    name: str
    url: str | None
    verb: str
    door: str
    changes: Any


def translated_changes(value: Any) -> Any:
    """An event's changes with the sentences the platform stored in them (a stall or requeue reason, a
    refusal, an error) in the reader's language; keys, and values no sentence of the catalog, as recorded."""
    if isinstance(value, dict):
        return {key: translated_changes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [translated_changes(item) for item in value]
    return translate(value) if isinstance(value, str) else value


class ObjectLinks:
    """Console pages of the objects a page of events names, found in a few queries."""

    def __init__(self, events: list[AuditEvent]) -> None:
        ids: dict[str, set[str]] = {}
        for event in events:
            ids.setdefault(event.object_type, set()).add(event.object_id)
        self.existing = {
            "projects.project": self._ids(Project, ids),
            "datasets.dataset": self._ids(Dataset, ids),
            "datasets.trainconfig": self._ids(TrainConfig, ids),
            "deployments.deployment": self._ids(Deployment, ids),
        }
        self.run_projects = dict(self._pairs(Run, "project_id", ids))
        self.file_datasets = dict(self._pairs(DatasetFile, "dataset_id", ids))

    @staticmethod
    def _wanted(model: type[Model], ids: dict[str, set[str]]) -> list[str]:
        wanted = ids.get(model._meta.label_lower, set())
        return [value for value in wanted if re.fullmatch(r"[0-9a-fA-F-]{32,36}", value)]

    def _ids(self, model: type[Model], ids: dict[str, set[str]]) -> set[str]:
        found = model._default_manager.filter(pk__in=self._wanted(model, ids)).values_list("pk", flat=True)
        return {str(pk) for pk in found}

    def _pairs(self, model: type[Model], parent: str, ids: dict[str, set[str]]) -> list[tuple[str, str]]:
        found = model._default_manager.filter(pk__in=self._wanted(model, ids)).values_list("pk", parent)
        return [(str(pk), str(parent_id)) for pk, parent_id in found]

    def url(self, event: AuditEvent) -> str | None:
        kind, pk = event.object_type, event.object_id
        if kind == "runs.run" and pk in self.run_projects:
            return reverse("console:run-detail", args=[self.run_projects[pk], pk])
        if kind == "datasets.datasetfile" and pk in self.file_datasets:
            return reverse("console:dataset-file", args=[self.file_datasets[pk], pk])
        pages = {
            "projects.project": "console:project-detail",
            "datasets.dataset": "console:dataset-detail",
            "datasets.trainconfig": "console:config-detail",
            "deployments.deployment": "console:deployment-detail",
        }
        if kind in pages and pk in self.existing[kind]:
            return reverse(pages[kind], args=[pk])
        return None


def event_rows(events: list[AuditEvent]) -> list[EventRow]:
    links = ObjectLinks(events)
    return [
        EventRow(
            event=event,
            object_type=object_type_name(event.object_type),
            name=STORED_PREFIX.sub("", event.object_repr),
            url=links.url(event),
            verb=verb_name(event.verb),
            door=door_name(event.via),
            changes=translated_changes(event.changes),
        )
        for event in events
    ]


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise PermissionDenied
    events = AuditEvent.objects.all()
    filters = {key: request.GET.get(key, "").strip() for key in ("actor", "object_type", "via")}
    if filters["actor"]:
        events = events.filter(actor_name=filters["actor"])
    if filters["object_type"]:
        events = events.filter(object_type=filters["object_type"])
    if filters["via"]:
        events = events.filter(via=filters["via"])
    query = request.GET.copy()
    query.pop("page", None)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": event_rows(list(page.object_list)),
        "filters": filters,
        "doors": DOORS,
        "object_types": sorted(((label, object_type_name(label)) for label in OBJECT_TYPES), key=lambda kind: kind[1]),
        "query": query.urlencode(),
    }
    return render(request, "audit/list.html", context)
