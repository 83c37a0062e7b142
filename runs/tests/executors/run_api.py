"""Driving runs of an executor's project through the API, as the end-to-end executor tests do."""

from __future__ import annotations

import time

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


def hang_until_flagged(client, project, supervisor, capture, *, stall_after: int) -> tuple[str, dict, float]:
    """Launch a trainer that sleeps after step 6 under `stall_after`; (its id, its detail once flagged
    stalled, seconds from its last step being seen to the flag)."""
    project.stall_after_seconds = stall_after
    project.save(update_fields=["stall_after_seconds"])
    hang = {"hang_at_step": 6, "hang_seconds": stall_after + 8}
    run_id = launch(client, project, {"hyperparameters": {"max_steps": 12, "step_seconds": 0.02, **hang}}, capture)
    wait_for(lambda: detail(client, project, run_id)["current_step"] == 6, between=supervisor.tick)
    last_step_seen = time.monotonic()
    flagged = wait_for(
        lambda: (body := detail(client, project, run_id))["stalled"] and body,
        between=supervisor.tick,
        timeout=stall_after + 15,
    )
    return run_id, flagged, time.monotonic() - last_step_seen
