"""Pages of a run's log without OFFSET scans.

A run's lines are numbered densely from 1 (`seq`), and their timestamps rise with
`seq`, so a page is a `seq` range: page p of size n holds seq
`low + (p-1)·n … low + p·n - 1`, found through the (run, seq) unique index however
deep the page. Time filters first turn into `seq` bounds through the
(run, timestamp, seq) index, and the total is `high - low + 1`, no COUNT. Only the
`level` and `q` filters, which make the numbering sparse, count and skip rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from runs.models import LogLevel, LogLine, Run

# The `level` filter means "this level and above".
SEVERITY: list[str] = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARNING, LogLevel.ERROR]


@dataclass(frozen=True)
class LogQuery:
    page: int = 1
    page_size: int = 50
    start_time: datetime | None = None  # inclusive
    end_time: datetime | None = None  # exclusive
    level: str | None = None
    text: str | None = None
    after_seq: int | None = None


@dataclass(frozen=True)
class LogPage:
    page: int
    page_size: int
    total: int
    items: list[LogLine]


def _seq_bounds(run: Run, query: LogQuery) -> tuple[int, int]:
    lines = LogLine.objects.filter(run=run)
    low, high = 1, run.next_log_seq - 1
    if query.after_seq is not None:
        low = max(low, query.after_seq + 1)
    if query.start_time is not None:
        first = (
            lines.filter(timestamp__gte=query.start_time)
            .order_by("timestamp", "seq")
            .values_list("seq", flat=True)
            .first()
        )
        low = max(low, first) if first is not None else high + 1
    if query.end_time is not None:
        last = (
            lines.filter(timestamp__lt=query.end_time)
            .order_by("-timestamp", "-seq")
            .values_list("seq", flat=True)
            .first()
        )
        high = min(high, last) if last is not None else 0
    return low, high


def read_log_page(run: Run, query: LogQuery) -> LogPage:
    low, high = _seq_bounds(run, query)
    first_index = (query.page - 1) * query.page_size
    if high < low:
        return LogPage(query.page, query.page_size, 0, [])
    in_range = LogLine.objects.filter(run=run, seq__gte=low, seq__lte=high).order_by("seq")
    if query.level or query.text:
        if query.level:
            in_range = in_range.filter(level__in=SEVERITY[SEVERITY.index(query.level) :])
        if query.text:
            in_range = in_range.filter(message__icontains=query.text)
        total = in_range.count()
        items = list(in_range[first_index : first_index + query.page_size])
        return LogPage(query.page, query.page_size, total, items)
    start = low + first_index
    items = list(in_range.filter(seq__gte=start, seq__lt=start + query.page_size))
    return LogPage(query.page, query.page_size, high - low + 1, items)
