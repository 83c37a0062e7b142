"""GET /deployments/{id}/logs: the server's log file, by page (default: the tail) or after an offset."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployments.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(owner, settings) -> Deployment:
    log_file = Path(settings.DEPLOY_LOG_DIR) / "d.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_bytes(b"".join(f"line {n}\n".encode() for n in range(1, 121)) + b"progress 10%\r\n" + b"partial")
    return Deployment.objects.create(created_by=owner, model_path="m", served_model_name="m", log_file=str(log_file))


def messages(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["message"] for item in response.json()["items"]]


def test_it_returns_the_tail_by_default(owner_client, deployment):
    response = owner_client.get(f"/deployments/{deployment.pk}/logs?page_size=50")

    body = response.json()
    assert (body["page"], body["page_size"], body["total"]) == (3, 50, 122)
    assert messages(response)[-3:] == ["line 120", "progress 10%", "partial"]
    assert body["items"][0]["line"] == 101


def test_it_pages_from_the_start_like_run_logs(owner_client, deployment):
    response = owner_client.get(f"/deployments/{deployment.pk}/logs?page=2&page_size=10")

    assert messages(response) == [f"line {n}" for n in range(11, 21)]


def test_it_follows_the_log_after_a_byte_offset(owner_client, deployment):
    first = owner_client.get(f"/deployments/{deployment.pk}/logs?after=0&page_size=100").json()
    second = owner_client.get(f"/deployments/{deployment.pk}/logs?after={first['next_offset']}&page_size=100")

    assert [item["line"] for item in first["items"]] == list(range(1, 101))
    assert messages(second) == [f"line {n}" for n in range(101, 121)] + ["progress 10%"]  # not the partial line
    again = owner_client.get(f"/deployments/{deployment.pk}/logs?after={second.json()['next_offset']}").json()
    assert again["items"] == [] and again["next_offset"] == second.json()["next_offset"]


@pytest.mark.parametrize(
    "query", ["page=0", "page=4&page_size=50", "page_size=501", "after=-1", "after=99999", "page=1&after=0"]
)
def test_it_refuses_out_of_range_values(owner_client, deployment, query):
    response = owner_client.get(f"/deployments/{deployment.pk}/logs?{query}")

    assert response.status_code == 400
    assert response.json()["detail"]


def test_it_returns_an_empty_page_before_the_server_wrote_anything(owner_client, owner, settings):
    deployment = Deployment.objects.create(
        created_by=owner,
        model_path="m",
        served_model_name="m",
        log_file=str(Path(settings.DEPLOY_LOG_DIR) / "none.log"),
    )

    body = owner_client.get(f"/deployments/{deployment.pk}/logs").json()

    assert (body["page"], body["total"], body["items"]) == (1, 0, [])
