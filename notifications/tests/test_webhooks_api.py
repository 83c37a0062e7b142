"""`/projects/{ref}/webhooks`: who may see, add, delete and replay a project's webhooks; which URLs are refused."""

from __future__ import annotations

import pytest

from notifications import services
from notifications.models import Delivery, DeliveryStatus, Subscription
from notifications.tests.receiver import receiver
from runs import services as run_services
from runs.models import Run

BASE = "/projects/qwen-finetune/webhooks"


@pytest.fixture
def hook():
    with receiver() as server:
        yield server


def test_it_lets_the_projects_creator_subscribe_and_shows_the_secret_once(owner_client, project, hook):
    created = owner_client.post(BASE, {"url": hook.url, "events": ["run.failed", "run.completed"]}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"] == Subscription.objects.get().secret
    assert body["events"] == ["run.completed", "run.failed"]
    listed = owner_client.get(BASE).json()
    assert [item["id"] for item in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in owner_client.get(f"{BASE}/{body['id']}").json()


def test_members_see_webhooks_but_only_the_creator_and_staff_change_them(
    owner, member_client, staff_client, project, hook
):
    webhook = services.create_subscription(project=project, actor=owner, url=hook.url)
    assert member_client.get(BASE).status_code == 200
    assert member_client.post(BASE, {"url": hook.url}, format="json").status_code == 403
    assert member_client.delete(f"{BASE}/{webhook.pk}").status_code == 403
    assert staff_client.delete(f"{BASE}/{webhook.pk}").status_code == 204
    assert not Subscription.objects.exists()


def test_outsiders_get_404_for_everything(owner, outsider_client, project, hook):
    webhook = services.create_subscription(project=project, actor=owner, url=hook.url)
    delivery = Delivery.objects.create(subscription=webhook, event="run.failed", payload={})
    for response in (
        outsider_client.get(BASE),
        outsider_client.post(BASE, {"url": hook.url}, format="json"),
        outsider_client.get(f"{BASE}/{webhook.pk}"),
        outsider_client.delete(f"{BASE}/{webhook.pk}"),
        outsider_client.get(f"{BASE}/{webhook.pk}/deliveries"),
        outsider_client.post(f"{BASE}/{webhook.pk}/deliveries/{delivery.pk}/replay"),
    ):
        assert response.status_code == 404


def test_it_replays_a_recorded_delivery(owner, owner_client, project, hook, django_capture_on_commit_callbacks):
    hook.failures_left = 1
    webhook = services.create_subscription(project=project, actor=owner, url=hook.url)
    run = Run.objects.create(project=project, name="run-1", created_by=owner)
    with django_capture_on_commit_callbacks(execute=True):
        run_services.cancel_run(run=run, actor=owner)
    [first] = owner_client.get(f"{BASE}/{webhook.pk}/deliveries").json()
    assert (first["status"], first["response_code"]) == ("retrying", 503)

    with django_capture_on_commit_callbacks(execute=True):
        replayed = owner_client.post(f"{BASE}/{webhook.pk}/deliveries/{first['id']}/replay")
    assert replayed.status_code == 202
    again = Delivery.objects.get(pk=replayed.json()["id"])
    assert (again.status, str(again.replay_of_id), again.event) == (
        DeliveryStatus.DELIVERED,
        first["id"],
        "run.cancelled",
    )
    assert [request.headers["X-LLMP-Delivery"] for request in hook.requests] == [first["id"], str(again.pk)]
    assert again.payload["data"] == Delivery.objects.get(pk=first["id"]).payload["data"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http://user:pw@example.com/hook",
        "http://127.0.0.1:8000/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/hook",
    ],
)
def test_it_refuses_urls_it_may_not_call(owner_client, project, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = owner_client.post(BASE, {"url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "url"
    assert not Subscription.objects.exists()


def test_it_refuses_at_delivery_a_host_that_now_resolves_to_a_private_address(
    owner, project, hook, settings, django_capture_on_commit_callbacks
):
    webhook = services.create_subscription(project=project, actor=owner, url=hook.url)
    settings.WEBHOOK_ALLOW_PRIVATE = False
    run = Run.objects.create(project=project, name="run-1", created_by=owner)
    with django_capture_on_commit_callbacks(execute=True):
        run_services.cancel_run(run=run, actor=owner)
    delivery = webhook.deliveries.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "private, loopback or reserved" in delivery.error
    assert hook.requests == []


def test_it_refuses_unknown_events_and_formats(owner_client, project, hook):
    assert owner_client.post(BASE, {"url": hook.url, "events": ["run.exploded"]}, format="json").status_code == 400
    assert owner_client.post(BASE, {"url": hook.url, "format": "teams"}, format="json").status_code == 400
