"""The console's webhooks page: the team sees deliveries; the project's creator adds webhooks and sends again."""

from __future__ import annotations

import json

from django.urls import reverse

from notifications import services
from notifications.models import Delivery, Subscription
from notifications.tests.receiver import receiver


def page_of(project) -> str:
    return reverse("console:webhooks", args=[project.pk])


def test_the_creator_adds_a_webhook_and_sends_a_delivery_again(
    owner_session, owner, project, django_capture_on_commit_callbacks
):
    with receiver() as hook:
        added = owner_session.post(page_of(project), {"url": hook.url, "format": "slack", "events": ["run.failed"]})
        assert added.status_code == 302
        webhook = Subscription.objects.get()
        assert (webhook.format, webhook.events) == ("slack", ["run.failed"])
        delivery = Delivery.objects.create(
            subscription=webhook, event="run.failed", payload={"event": "run.failed", "project": project.name}
        )
        page = owner_session.get(page_of(project)).content.decode()
        assert hook.url in page and "run.failed" in page

        replay = reverse("console:delivery-replay", args=[project.pk, delivery.pk])
        with django_capture_on_commit_callbacks(execute=True):
            assert owner_session.post(replay).status_code == 302

    again = Delivery.objects.exclude(pk=delivery.pk).get()
    assert (again.status, again.replay_of_id, again.response_code) == ("delivered", delivery.pk, 200)
    assert json.loads(hook.requests[0].body)["text"].startswith("[qwen-finetune] run.failed")


def test_it_refuses_a_url_it_may_not_call_on_the_form(owner_session, project, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    page = owner_session.post(page_of(project), {"url": "http://169.254.169.254/", "format": "json"})
    assert page.status_code == 200
    assert "private, loopback or reserved" in page.content.decode()
    assert not Subscription.objects.exists()


def test_members_see_deliveries_but_may_not_add_or_send_again(member_session, owner, project):
    webhook = services.create_subscription(project=project, actor=owner, url="http://127.0.0.1:9/x")
    delivery = Delivery.objects.create(subscription=webhook, event="run.failed", status="failed")
    page = member_session.get(page_of(project)).content.decode()
    assert "http://127.0.0.1:9/x" in page and "Send again" not in page
    assert member_session.post(page_of(project), {"url": "http://127.0.0.1:9/y", "format": "json"}).status_code == 403
    assert member_session.post(reverse("console:delivery-replay", args=[project.pk, delivery.pk])).status_code == 403


def test_outsiders_get_404(outsider_session, owner, project):
    webhook = services.create_subscription(project=project, actor=owner, url="http://127.0.0.1:9/x")
    delivery = Delivery.objects.create(subscription=webhook, event="run.failed")
    assert outsider_session.get(page_of(project)).status_code == 404
    assert outsider_session.post(reverse("console:delivery-replay", args=[project.pk, delivery.pk])).status_code == 404
