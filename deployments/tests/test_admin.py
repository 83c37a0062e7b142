"""The deployments admin: operators list, filter, search, and stop through the service."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from deployments.models import Deployment
from deployments.services import create_deployment
from deployments.tests.conftest import server_of
from gpus.models import GpuClaim
from llmplatform import processes

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    return client


def test_it_lists_filters_and_searches_deployments(admin_client, owner):
    Deployment.objects.create(
        created_by=owner, model_path="models/qwen", served_model_name="qwen-chat", status="running"
    )
    Deployment.objects.create(created_by=owner, model_path="models/llama", served_model_name="llama", status="stopped")

    page = admin_client.get("/admin/deployments/deployment/?status__exact=running&q=qwen")

    assert page.status_code == 200
    assert b"qwen-chat" in page.content and b"llama" not in page.content


def test_it_shows_a_deployment_with_its_command(admin_client, owner):
    deployment = Deployment.objects.create(
        created_by=owner, model_path="m", served_model_name="m", argv=["vllm", "serve", "/m/a b"]
    )

    page = admin_client.get(f"/admin/deployments/deployment/{deployment.pk}/change/")

    assert page.status_code == 200
    assert b"vllm serve &#x27;/m/a b&#x27;" in page.content


@pytest.mark.slow
def test_it_stops_selected_deployments_through_the_service(admin_client, owner, staff, fake_vllm, tiny_model):
    deployment = create_deployment(actor=owner, model_path=tiny_model)

    response = admin_client.post(
        "/admin/deployments/deployment/",
        {"action": "stop_deployments", "_selected_action": [str(deployment.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    assert b"stopped." in response.content
    deployment.refresh_from_db()
    assert deployment.status == "stopped"
    assert processes.group_members(server_of(deployment).pid) == []
    assert not GpuClaim.objects.exists()
    assert AuditEvent.objects.filter(object_id=str(deployment.pk), verb="stop", actor=staff).exists()
