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


@pytest.fixture
def long_run(project) -> Run:
    """10,000 steps of a falling loss with one spike up at step 5,000 and one dip at step 7,777."""
    run = Run.objects.create(project=project, status="running")
    values = {step: 2.0 - step / 10_000 for step in range(1, 10_001)}
    values[5_000], values[7_777] = 9.0, -1.0
    MetricPoint.objects.bulk_create(
        (MetricPoint(run=run, name="train/loss", step=step, value=value) for step, value in values.items()),
        batch_size=2000,
    )
    return run


def test_it_downsamples_on_request_keeping_the_extremes_and_the_ends(member_client, long_run):
    response = get(member_client, long_run, "?max_points=200")
    assert response.status_code == 200, response.content[:500]
    body = response.json()

    [series] = body["series"]
    steps = [point["step"] for point in series["points"]]
    assert len(steps) <= 200 and steps == sorted(steps)
    assert {1, 5_000, 7_777, 10_000} <= set(steps)
    assert max(point["value"] for point in series["points"]) == 9.0
    assert min(point["value"] for point in series["points"]) == -1.0
    assert series["total_points"] == 10_000 and series["downsampled"] is True


def test_it_answers_a_step_range_at_full_resolution_when_it_fits(owner_client, long_run):
    body = get(owner_client, long_run, "?max_points=200&since_step=4990&until_step=5010").json()

    [series] = body["series"]
    assert [point["step"] for point in series["points"]] == list(range(4990, 5011))
    assert series["total_points"] == 21 and series["downsampled"] is False


def test_it_keeps_every_point_and_the_contracts_fields_without_max_points(owner_client, long_run):
    [series] = get(owner_client, long_run, "?until_step=300").json()["series"]

    assert len(series["points"]) == 300
    assert set(series) == {"name", "points"}
    assert set(series["points"][0]) == {"step", "value", "timestamp"}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?max_points=3", "max_points"),
        ("?max_points=10001", "max_points"),
        ("?max_points=many", "max_points"),
        ("?until_step=later", "until_step"),
        (f"?since_step={2**63}", "since_step"),
        ("?since_step=10&until_step=5", "until_step"),
    ],
)
def test_it_refuses_bad_downsampling_parameters_naming_them(owner_client, run, query, parameter):
    response = get(owner_client, run, query)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(parameter)
    assert parameter in response.json()["errors"]


def test_it_hides_downsampled_series_from_outsiders(outsider_client, long_run):
    assert get(outsider_client, long_run, "?max_points=100").status_code == 404
