"""Writing audit events. Call `record_event` from every service that changes data."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import models

from audit.context import current_request
from audit.models import AuditAction, AuditEvent
from llmplatform.users import Actor


def signed_in(actor: Actor) -> User | None:
    """The user who acts, or None when nobody signed in does (an anonymous request, the platform itself)."""
    return actor if isinstance(actor, User) and actor.is_authenticated else None


def record_event(
    *,
    actor: Actor,
    action: str,
    target: models.Model,
    changes: dict[str, Any] | None = None,
    verb: str = "",
) -> AuditEvent:
    """Record that `actor` did `action` (an AuditAction) to `target`.

    `changes` maps field names to `[old, new]` (or to the new value on create); it
    must never hold secrets or personal data (de-identification mappings, tokens).
    """
    user = signed_in(actor)
    # The platform's own work (actor None) is "system", even when a request set it going.
    context = current_request.get() if actor is not None else None
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "",
        action=AuditAction(action),
        verb=verb or action,
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        object_repr=str(target)[:200],
        changes=changes or {},
        via=context.via if context else "system",
        client_address=context.client_address if context else None,
    )


def record_sign_in(*, verb: str, username: str, user: User | None, succeeded: bool = True) -> AuditEvent | None:
    """Record a login, a logout or a failed login (verb) by `username` through one of the
    platform's doors: the name alone, never a password. A failed login names the account
    tried, not as the one who acted. A login outside any request (a test client's or a
    script's own) is no one signing in, and is not recorded."""
    context = current_request.get()
    if context is None:
        return None
    return AuditEvent.objects.create(
        actor=signed_in(user) if succeeded else None,
        actor_name=username[:150],
        action=AuditAction.ACTION,
        verb=verb,
        object_type=User._meta.label_lower,
        object_id=str(user.pk) if user is not None else "",
        object_repr=username[:200],
        via=context.via,
        client_address=context.client_address,
    )
