"""DELETE /deployments/{id}: the whole process group is stopped and verified gone."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from deployments.allocation import port_is_bindable
from deployments.models import Deployment
from deployments.tests.conftest import fake_behaviour, server_of, supervise_until
from gpus.models import GpuClaim
from llmplatform import processes
from llmplatform.testing import wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def start(client, tiny_model, **body) -> dict:
    response = client.post("/deployments", {"model_path": tiny_model, **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def engine_started(info) -> bool:
    """The stand-in has started its engine-core child (wrapper, server and child are in the group)."""
    return len(processes.group_members(info["pid"])) >= 3


def test_it_stops_the_server_releases_gpu_and_port_and_keeps_it_listed(owner_client, fake_vllm, tiny_model):
    info = start(owner_client, tiny_model, preferred_gpu=0)
    supervise_until(info["deployment_id"], "running")
    wait_for(lambda: engine_started(info), timeout=15, what="the engine child")

    response = owner_client.delete(f"/deployments/{info['deployment_id']}")

    assert response.status_code == 200
    assert response.json() == {"detail": "deployment removed", "deployment_id": info["deployment_id"]}
    assert processes.group_members(info["pid"]) == []
    assert not GpuClaim.objects.exists()
    assert port_is_bindable(info["port"])
    listed = owner_client.get("/deployments").json()
    assert [(item["deployment_id"], item["status"]) for item in listed] == [(info["deployment_id"], "stopped")]
    assert isinstance(listed[0]["stopped_at"], float) and listed[0]["stopped_at"] >= listed[0]["started_at"]
    assert listed[0]["health_ok"] is False
    assert AuditEvent.objects.filter(object_id=info["deployment_id"], verb="stop").exists()
    assert start(owner_client, tiny_model, preferred_gpu=0)["gpu_id"] == 0  # the GPU is really free again


def test_it_refuses_to_stop_twice(owner_client, fake_vllm, tiny_model):
    info = start(owner_client, tiny_model)
    assert owner_client.delete(f"/deployments/{info['deployment_id']}").status_code == 200

    response = owner_client.delete(f"/deployments/{info['deployment_id']}")

    assert response.status_code == 409
    assert "already ended" in response.json()["detail"]


def test_it_leaves_a_server_that_ignores_sigterm_running_without_force(owner_client, fake_vllm, tiny_model, settings):
    settings.DEPLOY_STOP_GRACE_SECONDS = 0.5
    fake_behaviour(settings, "--fake-ignore-sigterm")
    info = start(owner_client, tiny_model)
    supervise_until(info["deployment_id"], "running")

    response = owner_client.delete(f"/deployments/{info['deployment_id']}")

    assert response.status_code == 409
    assert "force=true" in response.json()["detail"]
    deployment = Deployment.objects.get(pk=info["deployment_id"])
    assert deployment.status == "running" and deployment.stop_requested_at is None
    assert processes.is_running(server_of(deployment))
    assert GpuClaim.objects.filter(holder_id=info["deployment_id"]).exists()


def test_it_kills_the_whole_group_with_force(owner_client, fake_vllm, tiny_model, settings):
    settings.DEPLOY_STOP_GRACE_SECONDS = 0.5
    fake_behaviour(settings, "--fake-ignore-sigterm")
    info = start(owner_client, tiny_model)
    wait_for(lambda: engine_started(info), timeout=15, what="the engine child")
    members = [member for pid in processes.group_members(info["pid"]) if (member := processes.identify(pid))]

    response = owner_client.delete(f"/deployments/{info['deployment_id']}?force=true")

    assert response.status_code == 200
    assert processes.group_members(info["pid"]) == []
    assert not any(processes.is_running(member) for member in members)
    assert Deployment.objects.get(pk=info["deployment_id"]).status == "stopped"
    assert not GpuClaim.objects.exists()


def test_it_lets_only_the_owner_or_staff_stop(
    owner_client, member_client, outsider_client, staff_client, fake_vllm, tiny_model, project
):
    info = start(owner_client, tiny_model, project=project.name)

    assert outsider_client.delete(f"/deployments/{info['deployment_id']}").status_code == 404
    assert member_client.delete(f"/deployments/{info['deployment_id']}").status_code == 403
    assert Deployment.objects.get(pk=info["deployment_id"]).is_live
    assert staff_client.delete(f"/deployments/{info['deployment_id']}").status_code == 200


def test_it_answers_404_for_an_unknown_deployment(owner_client):
    assert owner_client.delete("/deployments/0b1c6f0e-6f4a-4a4e-9d8e-000000000000").status_code == 404
    assert owner_client.delete("/deployments/not-a-uuid").status_code == 404
