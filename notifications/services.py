"""Webhook workflows: subscribe, notify, deliver with retries, replay.

The domain calls `notify` where a transition happens (a run starts or ends, a checkpoint
is saved or tagged, a model server turns unhealthy, a launch finds the disk full). The
deliveries are recorded and queued once the transition's transaction commits, so an
event that was rolled back is never announced, and a receiver that is down never slows
the transition: a django-q2 worker sends each delivery, and after a failure schedules
the next attempt with exponential backoff (WEBHOOK_RETRY_BASE_SECONDS, doubling, at most
WEBHOOK_MAX_ATTEMPTS attempts). Every attempt's outcome is kept on the delivery.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction
from audit.services import record_event, signed_in
from llmplatform.errors import InvalidInput, NotPermitted
from llmplatform.sentences import gettext_noop
from llmplatform.users import Actor
from notifications import formats, transport
from notifications.models import Delivery, DeliveryStatus, EventName, Subscription, WebhookFormat
from projects.models import Project

logger = logging.getLogger(__name__)


# --- subscriptions ------------------------------------------------------------


def create_subscription(
    *,
    project: Project,
    actor: Actor,
    url: str,
    fmt: str = WebhookFormat.JSON,
    events: list[str] | None = None,
    name: str = "",
    secret: str = "",
) -> Subscription:
    """Subscribe `project` to `events` (none: every event); the project's creator and staff only."""
    if actor is None or not project.can_edit(actor):
        raise NotPermitted(_("Only the project's creator and staff manage its webhooks."))
    if fmt not in WebhookFormat.values:
        raise InvalidInput(
            format_lazy(_("format must be one of {choices}."), choices=", ".join(WebhookFormat.values)), field="format"
        )
    unknown = sorted(set(events or []) - set(EventName.values))
    if unknown:
        raise InvalidInput(
            format_lazy(
                _("Unknown events: {unknown}; choose among {events}."),
                unknown=", ".join(unknown),
                events=", ".join(EventName.values),
            ),
            field="events",
        )
    transport.resolve(url)
    subscription = Subscription(
        project=project, url=url, format=fmt, events=sorted(set(events or [])), name=name, created_by=signed_in(actor)
    )
    if secret:
        subscription.secret = secret
    subscription.save()
    record_event(
        actor=actor,
        action=AuditAction.CREATE,
        target=subscription,
        changes={"project": project.name, "url": url, "format": fmt, "events": subscription.events},
    )
    return subscription


def delete_subscription(*, subscription: Subscription, actor: Actor) -> None:
    if actor is None or not subscription.project.can_edit(actor):
        raise NotPermitted(_("Only the project's creator and staff manage its webhooks."))
    record_event(actor=actor, action=AuditAction.DELETE, target=subscription, changes={"url": subscription.url})
    subscription.delete()


# --- events -------------------------------------------------------------------


def notify(*, project_id: Any, event: EventName, summary: str, data: dict[str, Any]) -> None:
    """Announce `event` of a project to its subscribers once the current transaction commits.

    Never raises into the transition that called it: a broken broker loses a notification, not a run's end.
    """
    occurred_at = timezone.now().isoformat()
    payload = {"event": str(event), "occurred_at": occurred_at, "summary": summary, "data": data}
    transaction.on_commit(partial(_record_deliveries, project_id, payload), robust=True)


def _record_deliveries(project_id: Any, payload: dict[str, Any]) -> list[Delivery]:
    subscriptions = [
        subscription
        for subscription in Subscription.objects.filter(project_id=project_id, is_active=True).select_related("project")
        if subscription.wants(payload["event"])
    ]
    if not subscriptions:
        return []
    deliveries = Delivery.objects.bulk_create(
        Delivery(
            subscription=subscription,
            event=payload["event"],
            payload={**payload, "project": subscription.project.name, "delivery": str(delivery_id)},
            id=delivery_id,
        )
        for subscription, delivery_id in ((subscription, uuid.uuid4()) for subscription in subscriptions)
    )
    for delivery in deliveries:
        _enqueue(delivery)
    return deliveries


def _enqueue(delivery: Delivery) -> None:
    from django_q.tasks import async_task

    async_task("notifications.tasks.deliver", str(delivery.pk), task_name=f"webhook {delivery.event}", group="webhooks")


def _schedule_retry(delivery: Delivery, after: timedelta) -> None:
    from django_q.models import Schedule

    Schedule.objects.create(
        func="notifications.tasks.deliver",
        args=repr(str(delivery.pk)),
        schedule_type=Schedule.ONCE,
        next_run=timezone.now() + after,
        name=f"webhook retry {delivery.pk} #{delivery.attempts + 1}",
        repeats=-1,
    )


# --- delivering ---------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """Wait before the attempt after `attempts` failed ones: the base, doubling each time."""
    return timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1))


def deliver(delivery: Delivery) -> Delivery:
    """One attempt: send, record what happened, and schedule the next attempt after a failure."""
    if delivery.status not in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING):
        return delivery
    subscription = delivery.subscription
    request = formats.build(
        fmt=subscription.format,
        url=subscription.url,
        secret=subscription.secret,
        payload=delivery.payload,
        delivery_id=str(delivery.pk),
        now=time.time(),
    )
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {"attempts": attempts, "last_attempt_at": now, "next_attempt_at": None}
    final = False
    try:
        answer = transport.post(request.url, request.body, request.headers)
    except transport.UnsafeUrl as refusal:
        fields |= {"error": refusal.detail, "response_code": None, "response_excerpt": ""}
        final = True  # the URL will not become callable by waiting
    except OSError as exc:
        fields |= {
            "error": gettext_noop("Could not reach the receiver: {exc}").format(exc=exc),
            "response_code": None,
            "response_excerpt": "",
        }
    else:
        fields |= {"response_code": answer.status, "response_excerpt": answer.excerpt, "error": ""}
        if 200 <= answer.status < 300:
            fields |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
        else:
            fields["error"] = gettext_noop("The receiver answered {status}.").format(status=answer.status)
    if "status" not in fields:
        if final or attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            fields["status"] = DeliveryStatus.FAILED
        else:
            fields |= {"status": DeliveryStatus.RETRYING, "next_attempt_at": now + backoff(attempts)}
    # Guarded: of two workers holding the same attempt, one records it.
    if not Delivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts).update(**fields):
        delivery.refresh_from_db()
        return delivery
    for name, value in fields.items():
        setattr(delivery, name, value)
    if delivery.status == DeliveryStatus.RETRYING:
        _schedule_retry(delivery, backoff(attempts))
    elif delivery.status == DeliveryStatus.FAILED:
        logger.warning("Webhook delivery %s to %s failed for good: %s", delivery.pk, subscription.url, delivery.error)
    return delivery


def replay(*, delivery: Delivery, actor: Actor) -> Delivery:
    """Send a recorded delivery's event again, as a new delivery with a fresh signature."""
    subscription = delivery.subscription
    if actor is None or not subscription.project.can_edit(actor):
        raise NotPermitted(_("Only the project's creator and staff replay its webhook deliveries."))
    with transaction.atomic():
        again = Delivery.objects.create(
            subscription=subscription,
            event=delivery.event,
            payload={**delivery.payload, "replay_of": str(delivery.pk)},
            replay_of=delivery,
        )
        again.payload["delivery"] = str(again.pk)
        again.save(update_fields=["payload"])
        record_event(
            actor=actor, action=AuditAction.ACTION, verb="replay", target=again, changes={"replay_of": str(delivery.pk)}
        )
        transaction.on_commit(partial(_enqueue, again))
    return again
