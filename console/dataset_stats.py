"""A dataset file's statistics (datasets.validation's `stats`) and token lengths (datasets.token_lengths)
as tables and bar charts a person reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from datasets.models import TOTAL_FIELD, TokenLengths
from datasets.token_lengths import histogram, summary

# Shown above the tables, not in them.
COUNTS = ("records", "valid_records", "invalid_lines")

LABELS: dict[str, Promise] = {
    "turns": _("Turns per conversation"),
    "content_chars": _("Characters per message"),
    "text_chars": _("Characters per text"),
    "prompt_chars": _("Characters per prompt"),
    "response_chars": _("Characters per response"),
    "responses_per_prompt": _("Responses per prompt"),
    "roles": _("Messages by role"),
    "kinds": _("Records by kind"),
    "optional_fields": _("Records with optional fields"),
}
SUMMARY_KEYS = frozenset({"count", "min", "max", "mean", "total"})


@dataclass
class Bar:
    name: str
    count: int
    percent: float


@dataclass
class Statistics:
    summaries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    charts: list[tuple[str, list[Bar]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.summaries or self.charts)


def is_summary(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == SUMMARY_KEYS


def bars(counts: dict[str, Any]) -> list[Bar]:
    numbers = {str(name): count for name, count in counts.items() if isinstance(count, int)}
    highest = max(numbers.values(), default=0) or 1
    return [Bar(name, count, round(100 * count / highest, 1)) for name, count in numbers.items()]


def statistics(stats: dict[str, Any]) -> Statistics:
    """Summaries (count, min, mean, max, total) as table rows; counts by name as bar charts."""
    shown = Statistics()
    for key, value in stats.items():
        if key in COUNTS or not isinstance(value, dict):
            continue
        label = str(LABELS.get(key, key.replace("_", " ")))
        if is_summary(value):
            shown.summaries.append((label, value))
        elif value and all(is_summary(item) for item in value.values()):
            shown.summaries += [(f"{label} ({name})", summary) for name, summary in value.items()]
        elif counted := bars(value):
            shown.charts.append((label, counted))
    return shown


TOKEN_FIELD_LABELS: dict[str, Promise] = {
    TOTAL_FIELD: _("Tokens per record"),
    "prompt": _("Tokens per prompt"),
    "response": _("Tokens per response"),
    "chosen": _("Tokens per chosen response"),
    "rejected": _("Tokens per rejected response"),
    "text": _("Tokens per text"),
}


@dataclass
class TokenChart:
    label: str
    summary: dict[str, Any]
    bars: list[Bar]


def token_charts(lengths: TokenLengths) -> list[TokenChart]:
    """A measurement's fields, the whole record first: figures and records per power-of-two range of tokens."""
    order = sorted(lengths.lengths, key=lambda name: (name != TOTAL_FIELD, name))
    charts = []
    for name in order:
        counts = lengths.lengths[name]
        ranges = {
            (str(bucket.low) if bucket.low == bucket.high else f"{bucket.low}–{bucket.high}"): bucket.count
            for bucket in histogram(counts)
        }
        charts.append(TokenChart(str(TOKEN_FIELD_LABELS.get(name, name)), summary(counts), bars(ranges)))
    return charts
