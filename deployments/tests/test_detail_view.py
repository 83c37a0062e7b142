"""GET /deployments/{id}."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deployments.models import Deployment, DeploymentTag

pytestmark = pytest.mark.django_db


def test_it_shows_one_deployment_with_epoch_timestamps(owner, member_client, project):
    deployment = Deployment.objects.create(
        created_by=owner,
        project=project,
        model_path="models/a",
        served_model_name="a",
        gpu_id=1,
        port=8201,
        argv=["vllm", "serve", "/m/a b"],
        status="stopped",
        started_at=datetime(2024, 4, 12, 6, 54, 3, 21000, tzinfo=UTC),
        stopped_at=datetime(2024, 4, 12, 7, 0, 0, tzinfo=UTC),
    )
    DeploymentTag.objects.create(deployment=deployment, value="demo")

    info = member_client.get(f"/deployments/{deployment.pk}").json()

    assert info["deployment_id"] == str(deployment.pk)
    assert info["tags"] == ["demo"] and info["gpu_id"] == 1 and info["port"] == 8201
    assert info["vllm_cmd"] == "vllm serve '/m/a b'"
    assert info["started_at"] == pytest.approx(1712904843.021) and info["stopped_at"] == 1712905200.0
    assert info["created_by"] == owner.username
    assert info["project_id"] == str(project.pk)


def test_it_shows_a_deployment_to_its_owner_its_project_and_staff_only(
    owner, owner_client, member_client, outsider_client, staff_client, project
):
    shared = Deployment.objects.create(created_by=owner, project=project, model_path="m", served_model_name="shared")
    private = Deployment.objects.create(created_by=owner, model_path="m", served_model_name="private")

    for client in (owner_client, staff_client):
        assert client.get(f"/deployments/{private.pk}").json()["served_model_name"] == "private"
    assert member_client.get(f"/deployments/{shared.pk}").json()["served_model_name"] == "shared"
    for client, deployment in ((member_client, private), (outsider_client, private), (outsider_client, shared)):
        for path in (f"/deployments/{deployment.pk}", f"/deployments/{deployment.pk}/logs"):
            response = client.get(path)  # answered as for a deployment that does not exist
            assert (response.status_code, response.json()) == (404, {"detail": f"No deployment {deployment.pk}."})


def test_it_answers_404_for_unknown_or_malformed_ids(owner_client):
    assert owner_client.get("/deployments/0b1c6f0e-6f4a-4a4e-9d8e-000000000000").status_code == 404
    assert owner_client.get("/deployments/x").status_code == 404
