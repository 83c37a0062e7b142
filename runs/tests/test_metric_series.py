"""runs.metric_series: M4 downsampling, and a query the (run, name, step) index serves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from runs.metric_series import SeriesQuery, downsample, explain_series_query, read_series
from runs.models import MetricPoint, Run

AT = datetime(2026, 1, 1, tzinfo=UTC)


def points(values: dict[int, float]) -> list[tuple[int, float, datetime]]:
    return [(step, value, AT) for step, value in sorted(values.items())]


def test_it_leaves_a_series_that_fits_alone():
    series = points({1: 1.0, 2: 2.0, 3: 0.5})
    assert downsample(series, 4) == series
    assert downsample(series, None) == series


def test_it_keeps_each_buckets_first_lowest_highest_and_last_point():
    # Two buckets of steps 0-49 and 50-99 (max_points 8), irregular steps, a spike and a dip in each.
    values = {step: 1.0 for step in range(0, 100, 3)}
    values.update({9: 5.0, 30: -2.0, 60: 7.0, 81: -3.0})
    kept = downsample(points(values), 8)

    assert [step for step, _, _ in kept] == [0, 9, 30, 48, 51, 60, 81, 99]


def test_it_never_answers_more_than_max_points():
    series = points({step: float(step % 17) for step in range(0, 100_000, 7)})
    for max_points in (4, 5, 99, 1000):
        kept = downsample(series, max_points)
        assert len(kept) <= max_points
        assert kept[0] == series[0] and kept[-1] == series[-1]


@pytest.mark.django_db
def test_it_reads_the_run_and_name_asked_for_over_the_unique_index(project):
    runs = [Run.objects.create(project=project, name=f"run-{i}") for i in range(4)]
    MetricPoint.objects.bulk_create(
        (
            MetricPoint(run=run, name=name, step=step, value=step, timestamp=AT)
            for run in runs
            for name in ("train/loss", "train/learning_rate")
            for step in range(2500)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    query = SeriesQuery(names=("train/loss",), since_step=100, until_step=200, max_points=50)

    plan = explain_series_query(runs[2], query)

    # PostgreSQL names the index after the constraint; SQLite makes its own for an inline UNIQUE.
    assert "unique_metric_step" in plan or "sqlite_autoindex_runs_metricpoint" in plan, plan
    # SQLite reads the index in step order; PostgreSQL may sort a small range's rows after a bitmap scan of it.
    assert "TEMP B-TREE" not in plan, plan
    [series] = read_series(runs[2], query)
    assert series.total == 101 and len(series.points) <= 50
    assert (series.points[0][0], series.points[-1][0]) == (100, 200)
