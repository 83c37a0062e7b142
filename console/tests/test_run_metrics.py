"""The charts' endpoints: a run's metrics as JSON (downsampled over a step range) and as CSV (as stored, paged)."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from runs.models import MetricPoint, Run

pytestmark = pytest.mark.django_db


def url(name: str, run: Run) -> str:
    return reverse(f"console:{name}", args=[run.project_id, run.pk])


@pytest.fixture
def long_run(run) -> Run:
    MetricPoint.objects.bulk_create(
        (MetricPoint(run=run, name="train/loss", step=step, value=3.0 - step / 5000) for step in range(1, 5001)),
        batch_size=2000,
    )
    MetricPoint.objects.filter(run=run, name="train/loss", step=2500).update(value=8.0)
    return run


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_it_answers_each_series_downsampled_with_its_total_and_times(member_session, long_run):
    body = member_session.get(url("run-metrics", long_run), {"max_points": 100}).json()

    loss = body["series"]["train/loss"]
    assert len(loss) <= 100 and [2500, 8.0] in loss
    assert body["total"]["train/loss"] == 5000
    assert len(body["times"]["train/loss"]) == len(loss)
    assert body["series"]["loss"] == [[10, 1.9], [20, 1.8], [30, 1.7], [40, 1.6]]  # small series whole
    assert body["last_id"] == MetricPoint.objects.latest("pk").pk


def test_it_answers_a_zoomed_range_of_the_named_series(owner_session, long_run):
    query = {"max_points": 100, "since_step": 2490, "until_step": 2510, "name": ["train/loss", "loss"]}
    body = owner_session.get(url("run-metrics", long_run), query).json()

    assert list(body["series"]) == ["train/loss"]
    assert [step for step, _ in body["series"]["train/loss"]] == list(range(2490, 2511))


@pytest.mark.parametrize("query", [{"max_points": 1}, {"max_points": 10_001}, {"since_step": "x"}, {"limit": 0}])
def test_it_refuses_bad_parameters_naming_them(owner_session, run, query):
    for name in ("run-metrics", "run-metrics-csv"):
        response = owner_session.get(url(name, run), query)
        assert response.status_code == 400
        assert list(response.json()["errors"]) == list(query)


def test_it_exports_the_points_as_stored_as_csv(owner_session, run):
    response = owner_session.get(url("run-metrics-csv", run), {"name": ["loss", "eval_loss"]})

    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment")
    rows = rows_of(response)
    assert rows[0] == ["name", "step", "value", "timestamp"]
    assert [row[:3] for row in rows[1:]] == [
        ["eval_loss", "40", "1.5"],
        ["loss", "10", "1.9"],
        ["loss", "20", "1.8"],
        ["loss", "30", "1.7"],
        ["loss", "40", "1.6"],
    ]
    assert response["X-Total-Count"] == "5" and not response.has_header("Link")


def test_it_pages_a_long_export(owner_session, long_run):
    first = owner_session.get(url("run-metrics-csv", long_run), {"name": "train/loss", "limit": 2000})

    assert first["X-Total-Count"] == "5000"
    assert [row[1] for row in rows_of(first)[1:3]] == ["1", "2"]
    next_url = first["Link"].split(";")[0].strip("<>")
    assert "offset=2000" in next_url
    second = owner_session.get(next_url)
    assert rows_of(second)[1][1] == "2001"
    last = owner_session.get(url("run-metrics-csv", long_run), {"offset": 5003})  # of 5,005 points, all names
    assert [row[:2] for row in rows_of(last)[1:]] == [["train/loss", "4999"], ["train/loss", "5000"]]


def test_it_gives_outsiders_404(outsider_session, run):
    assert outsider_session.get(url("run-metrics-csv", run)).status_code == 404
    assert outsider_session.get(url("run-metrics", run), {"max_points": 10}).status_code == 404
