"""Driving runs of an executor's project through the API, as the end-to-end executor tests do."""

from __future__ import annotations

from llmplatform.testing import wait_for


def launch(client, project, body, capture) -> str:
    """POST a run and let its on-commit dispatch happen; its id."""
    with capture(execute=True):
        response = client.post(f"/projects/{project.name}/runs", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def detail(client, project, run_id) -> dict:
    response = client.get(f"/projects/{project.name}/runs/{run_id}")
    assert response.status_code == 200, response.content
    return response.json()


def until_status(client, project, run_id, supervisor, *statuses) -> dict:
    """Tick the supervisor until the run's status is one of `statuses`; its detail then."""
    return wait_for(
        lambda: (body := detail(client, project, run_id))["status"] in statuses and body,
        between=supervisor.tick,
        timeout=60,
    )
