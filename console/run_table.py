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
from typing import Any

from django.db.models import DurationField, ExpressionWrapper, F, OrderBy, Q
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce, Now
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from console.models import RunTableColumns
from llmplatform.users import Visitor
from projects.models import Project
from runs.models import RunQuerySet

RUNS_PER_PAGE = 50
COLUMN_SAMPLE = 200  # the latest runs whose keys are offered as columns
MAX_CHOSEN = 20
MAX_KEY_CHARS = 128
DEFAULT_SORT = "-created"
# Which JSON field of a run a column of each kind reads.
KINDS = {"hp": "hyperparameters", "m": "metrics"}


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
    """What the table offers to pick from: keys seen in the latest runs, and their tags."""

    hyperparameters: list[Column]
    metrics: list[Column]
    tags: list[str]


def offered(project: Project) -> Offered:
    """Columns and tags from the project's defaults and its latest COLUMN_SAMPLE runs: one query."""
    rows = project.runs.order_by("-created_at").values_list("hyperparameters", "metrics", "tags")[:COLUMN_SAMPLE]
    hyperparameters = set(project.default_hyperparameters or {})
    metrics: set[str] = set()
    tags: set[str] = set()
    for run_hyperparameters, run_metrics, run_tags in rows:
        hyperparameters.update(run_hyperparameters if isinstance(run_hyperparameters, dict) else ())
        metrics.update(run_metrics if isinstance(run_metrics, dict) else ())
        tags.update(tag for tag in run_tags or () if isinstance(tag, str))
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
