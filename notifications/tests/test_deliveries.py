"""Deliveries of a project's events to a real HTTP server on loopback: signed, formatted, retried, recorded."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler

from notifications import services
from notifications.models import Delivery, DeliveryStatus, WebhookFormat
from notifications.tests.receiver import receiver
from runs import services as run_services
from runs.models import Run


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: float = 300) -> bool:
    """The README's verification snippet, as a receiver runs it."""
    timestamp = headers["X-LLMP-Timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-LLMP-Signature"])


def wait_of(delivery: Delivery) -> timedelta:
    """How long after its last attempt the delivery's next one is due."""
    assert delivery.next_attempt_at is not None and delivery.last_attempt_at is not None
    return delivery.next_attempt_at - delivery.last_attempt_at


@pytest.fixture
def hook():
    with receiver() as server:
        yield server


def cancel_a_queued_run(project, owner, django_capture_on_commit_callbacks) -> Run:
    run = Run.objects.create(project=project, name="run-7", created_by=owner)
    with django_capture_on_commit_callbacks(execute=True):
        run_services.cancel_run(run=run, actor=owner)
    return run


def test_it_delivers_a_signed_event_when_a_run_is_cancelled(project, owner, hook, django_capture_on_commit_callbacks):
    webhook = services.create_subscription(project=project, actor=owner, url=hook.url, events=["run.cancelled"])
    run = cancel_a_queued_run(project, owner, django_capture_on_commit_callbacks)

    [request] = hook.requests
    body = json.loads(request.body)
    assert request.path == "/hooks/llmp"
    assert request.headers["X-LLMP-Event"] == "run.cancelled"
    assert verify(webhook.secret, request.headers, request.body)
    assert not verify("another-secret", request.headers, request.body)
    assert body["event"] == "run.cancelled"
    assert body["project"] == "qwen-finetune"
    assert body["data"]["run_id"] == str(run.pk)
    assert body["data"]["status"] == "cancelled"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.DELIVERED, 1, 200)
    assert delivery.response_excerpt == '{"ok": true}'
    assert request.headers["X-LLMP-Delivery"] == str(delivery.pk)


def test_it_sends_only_the_events_subscribed_to(project, owner, hook, django_capture_on_commit_callbacks):
    services.create_subscription(project=project, actor=owner, url=hook.url, events=["run.failed"])
    cancel_a_queued_run(project, owner, django_capture_on_commit_callbacks)
    assert hook.requests == []
    assert not Delivery.objects.exists()


def test_it_retries_with_backoff_until_the_receiver_recovers(
    project, owner, hook, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    hook.failures_left = 2
    services.create_subscription(project=project, actor=owner, url=hook.url)
    cancel_a_queued_run(project, owner, django_capture_on_commit_callbacks)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.RETRYING, 1, 503)
    assert delivery.response_excerpt == '{"error": "down for maintenance"}'
    waits = [wait_of(delivery)]
    for _ in range(2):
        # The attempt django-q2's scheduler would start once it is due.
        [retry] = Schedule.objects.filter(func="notifications.tasks.deliver")
        assert abs((retry.next_run - (delivery.next_attempt_at or retry.next_run)).total_seconds()) < 1
        assert delivery.next_attempt_at is not None
        Schedule.objects.filter(pk=retry.pk).update(next_run=timezone.now() - timedelta(seconds=1))
        scheduler()
        delivery.refresh_from_db()
        if delivery.next_attempt_at:
            waits.append(wait_of(delivery))

    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.DELIVERED, 3, 200)
    assert waits == [timedelta(seconds=30), timedelta(seconds=60)]
    assert len(hook.requests) == 3
    assert len({request.headers["X-LLMP-Delivery"] for request in hook.requests}) == 1
    assert not Schedule.objects.filter(func="notifications.tasks.deliver").exists()


def test_it_gives_up_after_the_last_attempt(project, owner, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    with receiver() as hook:
        hook.failures_left = 5
        services.create_subscription(project=project, actor=owner, url=hook.url)
        cancel_a_queued_run(project, owner, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.error) == (
        DeliveryStatus.FAILED,
        1,
        "The receiver answered 503.",
    )
    assert not Schedule.objects.filter(func="notifications.tasks.deliver").exists()


def test_it_records_an_unreachable_receiver(project, owner, django_capture_on_commit_callbacks):
    with receiver() as hook:
        url = hook.url
    services.create_subscription(project=project, actor=owner, url=url)
    cancel_a_queued_run(project, owner, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.error.startswith("Could not reach the receiver")
    assert delivery.response_code is None


@pytest.mark.parametrize(
    ("fmt", "text_of"),
    [
        (WebhookFormat.SLACK, lambda body: body["text"]),
        (WebhookFormat.WECOM, lambda body: body["msgtype"] == "text" and body["text"]["content"]),
        (WebhookFormat.FEISHU, lambda body: body["msg_type"] == "text" and body["content"]["text"]),
        (WebhookFormat.DINGTALK, lambda body: body["msgtype"] == "text" and body["text"]["content"]),
    ],
)
def test_it_speaks_each_chat_robots_message_format(
    fmt, text_of, project, owner, hook, django_capture_on_commit_callbacks
):
    services.create_subscription(project=project, actor=owner, url=hook.url, fmt=fmt)
    cancel_a_queued_run(project, owner, django_capture_on_commit_callbacks)
    [request] = hook.requests
    assert text_of(json.loads(request.body)) == "[qwen-finetune] run.cancelled: run run-7 cancelled"


def test_it_signs_for_feishu_robots_as_feishu_documents(project, owner, hook, django_capture_on_commit_callbacks):
    secret = "feishu-robot-secret"
    services.create_subscription(project=project, actor=owner, url=hook.url, fmt=WebhookFormat.FEISHU, secret=secret)
    cancel_a_queued_run(project, owner, django_capture_on_commit_callbacks)
    body = json.loads(hook.requests[0].body)
    key = f"{body['timestamp']}\n{secret}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert abs(int(body["timestamp"]) - time.time()) < 60


def test_it_signs_for_dingtalk_robots_as_dingtalk_documents(project, owner, hook, django_capture_on_commit_callbacks):
    secret = "SEC-dingtalk-robot-secret"
    services.create_subscription(
        project=project, actor=owner, url=hook.url + "?access_token=abc", fmt=WebhookFormat.DINGTALK, secret=secret
    )
    cancel_a_queued_run(project, owner, django_capture_on_commit_callbacks)
    query = parse_qs(urlsplit(hook.requests[0].path).query)
    timestamp = query["timestamp"][0]
    expected = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    assert query["access_token"] == ["abc"]
    assert query["sign"] == [base64.b64encode(expected).decode()]
    assert abs(int(timestamp) / 1000 - time.time()) < 60
