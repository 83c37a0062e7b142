"""GET /deployments?model=&tag=&status=."""

from __future__ import annotations

import pytest

from deployments.models import Deployment, DeploymentTag

pytestmark = pytest.mark.django_db


def make(
    owner, *, model_path="models/a", status="running", tags=(), served="a", gpu=None, port=None, project=None
) -> Deployment:
    deployment = Deployment.objects.create(
        created_by=owner,
        model_path=model_path,
        served_model_name=served,
        status=status,
        gpu_id=gpu,
        port=port,
        project=project,
    )
    DeploymentTag.objects.bulk_create(DeploymentTag(deployment=deployment, value=tag) for tag in tags)
    return deployment


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["deployment_id"] for item in response.json()]


def test_it_lists_newest_first_what_each_user_may_see(
    owner, member, owner_client, member_client, outsider_client, staff_client, project
):
    older = make(owner, status="stopped", project=project)
    newer = make(owner, project=project)
    private = make(owner)
    bobs = make(member)

    assert ids(member_client.get("/deployments")) == [str(bobs.pk), str(newer.pk), str(older.pk)]
    assert ids(owner_client.get("/deployments")) == [str(private.pk), str(newer.pk), str(older.pk)]
    assert len(ids(staff_client.get("/deployments"))) == 4
    response = outsider_client.get("/deployments?status=running")
    assert ids(response) == [] and response["X-Total-Count"] == "0"


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


def test_it_slices_long_lists_with_paging_headers(owner, owner_client):
    for _ in range(5):
        make(owner)

    response = owner_client.get("/deployments?limit=2&offset=2")

    assert ids(response) == [str(pk) for pk in Deployment.objects.values_list("pk", flat=True)][2:4]
    assert response["X-Total-Count"] == "5"
    assert 'rel="next"' in response["Link"]


def test_it_refuses_an_unknown_status(owner_client):
    response = owner_client.get("/deployments?status=sleeping")

    assert response.status_code == 400
    assert "status" in response.json()["detail"] and "sleeping" in response.json()["detail"]


def test_it_lists_many_deployments_in_a_fixed_number_of_queries(owner, owner_client, django_assert_max_num_queries):
    for index in range(20):
        make(owner, tags=["demo", f"t{index}"])

    with django_assert_max_num_queries(4):
        assert len(ids(owner_client.get("/deployments"))) == 20


def test_it_refuses_anonymous_callers(anonymous_client):
    assert anonymous_client.get("/deployments").status_code in {401, 403}
