"""Reading a run's metric series for charts: a step range, and at most N points per series on request.

A chart a few hundred pixels wide cannot show 100,000 points, and sending them costs
seconds. `read_series` with `max_points` keeps, in each of `max_points // 4` buckets of
equal step width, the bucket's first, lowest, highest and last point (M4 buckets): the
line drawn through them has the same extremes, spikes and ends as the full series. A
chart that zooms asks again for the visible step range alone and gets it at full
resolution once the range holds few enough points.

The query reads `(run, name, step)` in that order, which the unique constraint's index
serves on SQLite and PostgreSQL alike (no sort, no table scan; `explain_series_query`
shows the plan).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from itertools import groupby
from operator import itemgetter
from typing import TypeVar
from uuid import UUID

from django.db.models import Max, Min, Q, QuerySet

from runs.models import MetricPoint, Run

# The most points per series a caller may ask for: more than any screen is wide.
MAX_POINTS_LIMIT = 10_000
# The fewest: one bucket of first, lowest, highest and last.
MIN_POINTS = 4
# A step range's bounds: what a 64-bit integer column holds (beyond it the database refuses the query).
MIN_STEP, MAX_STEP = -(2**63), 2**63 - 1
# The most rows one CSV export answers; a longer series is read in pages.
MAX_EXPORT_ROWS = 100_000

Point = tuple[int, float, datetime]  # step, value, when the trainer wrote it
P = TypeVar("P", tuple[int, float], Point)
CHUNK = 10_000  # rows fetched at a time
CHUNK_OF_STEPS = 900  # steps in one IN (...): within any SQLite's limit on parameters


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    names: tuple[str, ...] = ()  # none: every metric
    since_step: int | None = None  # step ≥ this
    until_step: int | None = None  # step ≤ this
    max_points: int | None = None  # None: every point, as stored


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: list[Point]
    total: int  # points stored in the range, before downsampling

    @property
    def downsampled(self) -> bool:
        return len(self.points) < self.total


def series_points(run: Run, query: SeriesQuery) -> QuerySet[MetricPoint]:
    points = MetricPoint.objects.filter(run=run)
    if query.names:
        points = points.filter(name__in=query.names)
    if query.since_step is not None:
        points = points.filter(step__gte=query.since_step)
    if query.until_step is not None:
        points = points.filter(step__lte=query.until_step)
    return points.order_by("name", "step")


def read_series(run: Run, query: SeriesQuery) -> list[Series]:
    """The run's series in name order, each in step order, downsampled to `query.max_points` if given.

    Downsampling reads each series' steps and values first and the times of the points it keeps afterwards:
    turning 100,000 stored times into datetimes would cost more than the rest of the read.
    """
    points = series_points(run, query)
    if query.max_points is None:
        rows = points.values_list("name", "step", "value", "timestamp").iterator(chunk_size=CHUNK)
        return [
            Series(name=name, points=every, total=len(every))
            for name, group in groupby(rows, key=itemgetter(0))
            for every in [[(step, value, at) for _, step, value, at in group]]
        ]
    series = []
    for name in points.order_by("name").values_list("name", flat=True).distinct():
        every = list(points.filter(name=name).values_list("step", "value").iterator(chunk_size=CHUNK))
        series.append(
            Series(name=name, points=_timed(run, name, downsample(every, query.max_points)), total=len(every))
        )
    return series


def _timed(run: Run, name: str, points: list[tuple[int, float]]) -> list[Point]:
    """`points` of the series `name` with the time each was written."""
    steps = [step for step, _ in points]
    times: dict[int, datetime] = {}
    for start in range(0, len(steps), CHUNK_OF_STEPS):
        chunk = steps[start : start + CHUNK_OF_STEPS]
        times.update(MetricPoint.objects.filter(run=run, name=name, step__in=chunk).values_list("step", "timestamp"))
    return [(step, value, times[step]) for step, value in points if step in times]


def downsample(points: list[P], max_points: int | None) -> list[P]:
    """At most `max_points` of `points` (in step order): per bucket of steps, its first, lowest, highest and last."""
    if max_points is None or len(points) <= max_points:
        return points
    buckets = max(1, max_points // MIN_POINTS)
    first_step, last_step = points[0][0], points[-1][0]
    width = last_step - first_step + 1
    kept: list[int] = []
    start = 0
    while start < len(points):
        bucket = (points[start][0] - first_step) * buckets // width
        # The bucket's points are contiguous: find its end by its step bound.
        bound = first_step + -(-(bucket + 1) * width // buckets)  # first step of the next bucket
        end = start
        lowest = highest = start
        while end < len(points) and points[end][0] < bound:
            value = points[end][1]
            if value < points[lowest][1]:
                lowest = end
            elif value > points[highest][1]:
                highest = end
            end += 1
        kept.extend(sorted({start, lowest, highest, end - 1}))
        start = end
    return [points[index] for index in kept]


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """One metric of one run at a glance: its last value and its best, where "best" has a meaning."""

    final_step: int
    final: float
    best: float | None


# Metrics where lower is better, and where higher is; others (a learning rate, an epoch) have no best.
LOWER_IS_BETTER = ("loss", "perplexity", "ppl", "error", "wer", "cer")
HIGHER_IS_BETTER = ("acc", "rouge", "bleu", "f1", "reward", "score", "exact_match", "precision", "recall")


def best_direction(name: str) -> str | None:
    """ "min", "max" or None, from the metric's name (`eval/loss` → min, `eval/rouge_l` → max)."""
    last = name.lower().rsplit("/", 1)[-1]
    if any(word in last for word in LOWER_IS_BETTER):
        return "min"
    if any(word in last for word in HIGHER_IS_BETTER):
        return "max"
    return None


def metric_summaries(run_ids: list[UUID]) -> dict[UUID, dict[str, MetricSummary]]:
    """`{run_id: {name: MetricSummary}}` for these runs, in two grouped queries over the `(run, name, step)` index."""
    extremes = (
        MetricPoint.objects.filter(run__in=run_ids)
        .values("run_id", "name")
        .annotate(last_step=Max("step"), lowest=Min("value"), highest=Max("value"))
    )
    by_key = {(row["run_id"], row["name"]): row for row in extremes}
    if not by_key:
        return {}
    finals = MetricPoint.objects.filter(
        reduce(operator.or_, (Q(run_id=run, name=name, step=row["last_step"]) for (run, name), row in by_key.items()))
    ).values_list("run_id", "name", "step", "value")
    summaries: dict[UUID, dict[str, MetricSummary]] = {}
    for run_id, name, step, value in finals:
        row = by_key[(run_id, name)]
        direction = best_direction(name)
        best = row["lowest"] if direction == "min" else row["highest"] if direction == "max" else None
        summaries.setdefault(run_id, {})[name] = MetricSummary(final_step=step, final=value, best=best)
    return summaries


def explain_series_query(run: Run, query: SeriesQuery) -> str:
    """The database's plan for `read_series`' query (for checking that an index serves it)."""
    return series_points(run, query).values_list("step", "value").explain()
