"""GET /deployments?model=&tag=&status= and GET /deployments/{id}."""

from __future__ import annotations

import pytest

from deployments.models import Deployment, DeploymentTag

pytestmark = pytest.mark.django_db


def make(owner, *, model_path="models/a", status="running", tags=(), served="a", gpu=None, port=None) -> Deployment:
    deployment = Deployment.objects.create(
        created_by=owner, model_path=model_path, served_model_name=served, status=status, gpu_id=gpu, port=port
    )
    DeploymentTag.objects.bulk_create(DeploymentTag(deployment=deployment, value=tag) for tag in tags)
    return deployment


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["deployment_id"] for item in response.json()]


def test_it_lists_every_deployment_newest_first_to_any_team_member(owner, member_client):
    older = make(owner, status="stopped")
    newer = make(owner)

    assert ids(member_client.get("/deployments")) == [str(newer.pk), str(older.pk)]


def test_it_filters_by_model_tag_and_status(owner, owner_client):
    qwen = make(owner, model_path="models/qwen2.5", served="qwen", tags=["demo", "zh"], gpu=0, port=8200)
    llama = make(owner, model_path="models/llama", served="llama", tags=["demo"], status="stopped")
    make(owner, model_path="models/other", served="other", status="failed")

    assert ids(owner_client.get("/deployments?model=models/qwen2.5")) == [str(qwen.pk)]
    assert ids(owner_client.get("/deployments?model=llama")) == [str(llama.pk)]  # its served name
    assert set(ids(owner_client.get("/deployments?tag=demo"))) == {str(qwen.pk), str(llama.pk)}
    assert ids(owner_client.get("/deployments?tag=zh&status=running")) == [str(qwen.pk)]
    assert ids(owner_client.get("/deployments?status=stopped")) == [str(llama.pk)]
    assert ids(owner_client.get("/deployments?tag=nothing")) == []


def test_it_refuses_an_unknown_status(owner_client):
    response = owner_client.get("/deployments?status=sleeping")

    assert response.status_code == 400
    assert "status" in response.json()["detail"] and "sleeping" in response.json()["detail"]


def test_it_lists_many_deployments_in_a_fixed_number_of_queries(owner, owner_client, django_assert_max_num_queries):
    for index in range(20):
        make(owner, tags=["demo", f"t{index}"])

    with django_assert_max_num_queries(4):
        assert len(ids(owner_client.get("/deployments"))) == 20


def test_it_shows_one_deployment_with_epoch_timestamps(owner, member_client):
    deployment = make(owner, tags=["demo"], gpu=1, port=8201)
    Deployment.objects.filter(pk=deployment.pk).update(argv=["vllm", "serve", "/m/a b"])

    info = member_client.get(f"/deployments/{deployment.pk}").json()

    assert info["deployment_id"] == str(deployment.pk)
    assert info["tags"] == ["demo"] and info["gpu_id"] == 1 and info["port"] == 8201
    assert info["vllm_cmd"] == "vllm serve '/m/a b'"
    assert info["started_at"] is None and info["stopped_at"] is None
    assert info["created_by"] == owner.username


def test_it_answers_404_for_unknown_or_malformed_ids(owner_client):
    assert owner_client.get("/deployments/0b1c6f0e-6f4a-4a4e-9d8e-000000000000").status_code == 404
    assert owner_client.get("/deployments/x").status_code == 404


def test_it_refuses_anonymous_callers(anonymous_client):
    assert anonymous_client.get("/deployments").status_code in {401, 403}
