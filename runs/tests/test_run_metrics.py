"""GET /projects/{ref}/runs/{id}/metrics: one time series per metric name."""

from __future__ import annotations

import pytest

from runs.models import MetricPoint, Run


@pytest.fixture
def run(project) -> Run:
    run = Run.objects.create(project=project, status="running")
    MetricPoint.objects.bulk_create(
        [MetricPoint(run=run, name="loss", step=step, value=3.0 / step) for step in (1, 2, 3)]
        + [MetricPoint(run=run, name="learning_rate", step=step, value=1e-4) for step in (1, 3)]
    )
    return run


def get(client, run, query=""):
    return client.get(f"/projects/{run.project.name}/runs/{run.pk}/metrics{query}")


def test_it_returns_each_metric_as_a_series_in_step_order(owner_client, run):
    response = get(owner_client, run)

    assert response.status_code == 200
    body = response.json()
    assert body["run_id"] == str(run.pk)
    series = {item["name"]: item["points"] for item in body["series"]}
    assert [(point["step"], point["value"]) for point in series["loss"]] == [(1, 3.0), (2, 1.5), (3, 1.0)]
    assert [point["step"] for point in series["learning_rate"]] == [1, 3]
    assert series["loss"][0]["timestamp"]


def test_it_filters_by_name_and_since_step(owner_client, run):
    body = get(owner_client, run, "?name=loss&since_step=2").json()

    assert [(item["name"], [p["step"] for p in item["points"]]) for item in body["series"]] == [("loss", [2, 3])]
    assert get(owner_client, run, "?name=nothing").json()["series"] == []


def test_it_refuses_a_bad_since_step_and_hides_from_outsiders(owner_client, outsider_client, run):
    assert get(owner_client, run, "?since_step=soon").status_code == 400
    assert get(outsider_client, run).status_code == 404
