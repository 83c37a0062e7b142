"""The deployments admin: operators list, filter, search and stop through the service, and start a
deployment allowing more vLLM options (console/admin.py)."""

from __future__ import annotations

import html

import pytest

from audit.models import AuditEvent
from conftest import make_user, session_client
from deployments.models import Deployment
from deployments.services import create_deployment
from deployments.tests.conftest import server_of
from deployments.vllm import quoted
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


def start_in_admin(client, tiny_model, *, language: str = "en", follow: bool = False, **fields):
    body = {"model_path": tiny_model, "health_path": "/health", "preferred_gpu": "", **fields}
    return client.post("/admin/deployments/deployment/add/", body, HTTP_ACCEPT_LANGUAGE=language, follow=follow)


@pytest.mark.slow
def test_it_starts_a_deployment_with_the_options_staff_allow(admin_client, staff, fake_vllm, tiny_model):
    plain_staff = session_client(make_user("night-operator", is_staff=True))  # no permission to add deployments
    assert plain_staff.get("/admin/deployments/deployment/add/").status_code == 403
    assert b"--max-num-seqs" in admin_client.get("/admin/deployments/deployment/add/").content

    response = start_in_admin(
        admin_client,
        tiny_model,
        extra_args="--trust-remote-code --max-num-seqs 100000",
        allowed_extra_flags="--trust-remote-code, --max-num-seqs",
    )

    deployment = Deployment.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{deployment.pk}/change/")
    assert deployment.allowed_extra_flags == ["--trust-remote-code", "--max-num-seqs"]
    assert quoted(deployment.argv).endswith("--trust-remote-code --max-num-seqs 100000")
    event = AuditEvent.objects.get(object_id=str(deployment.pk), action="create")
    assert event.actor == staff and event.via == "admin"
    assert event.changes["allowed_extra_flags"] == ["--trust-remote-code", "--max-num-seqs"]
    assert b"--trust-remote-code" in admin_client.get(response["Location"]).content


@pytest.mark.slow
def test_it_says_in_chinese_that_the_deployment_it_started_is_loading(admin_client, fake_vllm, tiny_model):
    response = start_in_admin(admin_client, tiny_model, language="zh-hans", follow=True)

    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert f"({str(Deployment.objects.get().pk)[:8]}) 已启动，正在加载模型。" in page
    assert "it is loading the model" not in page


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"extra_args": "--trust-remote-code"}, "`--trust-remote-code` is not among the vLLM options users may pass"),
        ({"extra_args": "--port 80", "allowed_extra_flags": "--port"}, "`--port` is set by the platform"),
        ({"allowed_extra_flags": "--no-such-option"}, "`--no-such-option` is not an option of vllm serve"),
    ],
)
def test_it_refuses_options_staff_did_not_or_may_not_allow(admin_client, fake_vllm, tiny_model, fields, reason):
    response = start_in_admin(admin_client, tiny_model, **fields)

    assert response.status_code == 400
    assert reason in html.unescape(response.content.decode())
    assert not Deployment.objects.exists()
