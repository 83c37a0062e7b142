"""A dataset file's statistics (datasets.validation's `stats`) as tables and bar charts a person reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

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
