"""A project's runs as a table: columns for the hyperparameters and final metrics a person picks,
sorting by any column, search and filters, paged.

The picked columns are kept per person and project (console.models.RunTableColumns) and travel
in the URL (`col=hp:learning_rate&col=m:eval_loss`), so a link shows the same table. A page costs
the same handful of queries however many runs the project has and however many columns are
shown: a column's values come from the row's own JSON, and sorting by one is the database's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import DurationField, ExpressionWrapper, F, OrderBy, Q
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce, Now
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.models import RunTableColumns
from llmplatform.json_lists import distinct_members
from llmplatform.users import Visitor
from projects.models import Project
from runs.models import Run, RunQuerySet

RUNS_PER_PAGE = 50
MAX_CHOSEN = 20
MAX_KEY_CHARS = 128
DEFAULT_SORT = "-created"
# Which JSON field of a run a column of each kind reads.
KINDS = {"hp": "hyperparameters", "m": "metrics"}
# The keys and tags of a project's runs are kept in the cache, with when they were read: a page reads again
# only the runs changed since then (every write of a run's JSON moves its updated_at), less this margin for
# a write that committed later than its clock says (another host's, a long transaction's).
KEYS_MARGIN = timedelta(minutes=5)
# ...and all of them again this often, which drops the keys of runs deleted meanwhile.
KEYS_KEPT_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Column:
    """A hyperparameter (`hp`) or a final metric (`m`) shown as a column of the table."""

    kind: str
    key: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.key}"

    def value(self, run: Any) -> Any:
        values = getattr(run, KINDS[self.kind]) or {}
        return values.get(self.key) if isinstance(values, dict) else None

    @classmethod
    def parse(cls, text: str) -> Column | None:
        kind, _colon, key = text.partition(":")
        if kind not in KINDS or not key or len(key) > MAX_KEY_CHARS:
            return None
        return cls(kind, key)


def parse_columns(texts: Iterable[str]) -> list[Column]:
    """The columns named in `texts`, known kinds only, each once, at most MAX_CHOSEN."""
    columns = dict.fromkeys(column for column in map(Column.parse, texts) if column is not None)
    return list(columns)[:MAX_CHOSEN]


# The table's own columns that sort: their name in `sort=` and what they order by.
FIXED_SORTS: dict[str, Any] = {
    "name": F("name"),
    "status": F("status"),
    "creator": F("created_by__username"),
    "created": F("created_at"),
    "started": F("started_at"),
    "duration": ExpressionWrapper(
        Coalesce("completed_at", "cancelled_at", Now()) - F("started_at"), output_field=DurationField()
    ),
}
FIXED_LABELS = {
    "name": _("Run"),
    "status": _("Status"),
    "creator": _("Launched by"),
    "created": _("Created"),
    "started": _("Started"),
    "duration": _("Duration"),
}


def sort_key(text: str) -> str:
    """`text` when it names a column the table sorts by (a leading "-" for descending), else the default."""
    name = text.removeprefix("-")
    if name in FIXED_SORTS or Column.parse(name) is not None:
        return text
    return DEFAULT_SORT


def ordering(sort: str) -> list[OrderBy]:
    """ORDER BY for `sort`; runs without a value last either way, newest first among equals."""
    descending = sort.startswith("-")
    name = sort.removeprefix("-")
    column = Column.parse(name)
    expression = KeyTransform(column.key, KINDS[column.kind]) if column else FIXED_SORTS[name]
    primary = expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
    return [primary, F("created_at").desc(), F("id").asc()]


@dataclass(frozen=True)
class Offered:
    """What the table offers to pick from: the keys the project's runs have, and their tags."""

    hyperparameters: list[Column]
    metrics: list[Column]
    tags: list[str]


def run_keys(project: Project) -> dict[str, set[str]]:
    """The distinct hyperparameter and metric keys and tags of every run of `project`, in one query: the
    database takes the runs' JSON apart, and only for the runs changed since the project's keys were
    last read (all of them the first time; 10,000 runs take a few hundred ms then, a few ms after)."""
    name = f"console:run-keys:{project.pk}"
    kept = cache.get(name)
    read_at = timezone.now()
    runs = Run.objects.filter(project=project)
    if kept is not None:
        runs = runs.filter(updated_at__gte=kept["read_at"] - KEYS_MARGIN)
    found = distinct_members(runs, keys_of=("hyperparameters", "metrics"), texts_of=("tags",))
    if kept is not None:
        found = {field: members | set(kept[field]) for field, members in found.items()}
    cache.set(
        name, {"read_at": read_at, **{field: sorted(members) for field, members in found.items()}}, KEYS_KEPT_SECONDS
    )
    return found


def offered(project: Project) -> Offered:
    """Columns and tags from the project's defaults and every one of its runs (`run_keys`)."""
    found = run_keys(project)
    hyperparameters = found["hyperparameters"] | set(project.default_hyperparameters or {})
    metrics, tags = found["metrics"], found["tags"]
    return Offered(
        hyperparameters=[Column("hp", key) for key in sorted(hyperparameters) if len(key) <= MAX_KEY_CHARS],
        metrics=[Column("m", key) for key in sorted(metrics) if len(key) <= MAX_KEY_CHARS],
        tags=sorted(tags),
    )


def default_columns(offer: Offered) -> list[Column]:
    """Before a person picks: a few hyperparameters and the losses, else the first metrics."""
    losses = [column for column in offer.metrics if column.key.endswith("loss")]
    return [*offer.hyperparameters[:3], *(losses or offer.metrics)[:2]]


def chosen_columns(user: Visitor, project: Project, query: QueryDict, offer: Offered) -> list[Column]:
    """The columns `query` names (`col=`), kept as this person's choice for the project when they
    come from the picker (`columns=1`); else the ones they kept; else the defaults."""
    if query.get("columns") or "col" in query:
        columns = parse_columns(query.getlist("col"))
        if query.get("columns") and user.is_authenticated:
            RunTableColumns.objects.update_or_create(
                user=user, project=project, defaults={"columns": [column.id for column in columns]}
            )
        return columns
    if not user.is_authenticated:
        return default_columns(offer)
    kept = RunTableColumns.objects.filter(user=user, project=project).values_list("columns", flat=True).first()
    return parse_columns(kept) if kept is not None else default_columns(offer)


def filtered(runs: RunQuerySet, *, text: str, status: str, tag: str, creator: str) -> RunQuerySet:
    """Runs whose name or notes hold `text`, of `status`, carrying `tag`, launched by `creator` (blank: any)."""
    if text:
        runs = runs.filter(Q(name__icontains=text) | Q(notes__icontains=text))
    if status:
        runs = runs.filter(status=status)
    if tag:
        runs = runs.with_tag(tag)
    if creator:
        runs = runs.filter(created_by__username=creator)
    return runs
