"""What the console itself changes: a person's own API token."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token

from audit.models import AuditAction
from audit.services import record_event

ROTATED = "rotate API token"  # the audit verb


def rotate_api_token(*, user: User) -> Token:
    """Replace the user's API token (or give them a first one): the old one stops working at once.
    The audit event says that it happened, never the token."""
    with transaction.atomic():
        had_one = Token.objects.filter(user=user).delete()[0] > 0
        token = Token.objects.create(user=user)
    record_event(actor=user, action=AuditAction.ACTION, target=user, verb=ROTATED, changes={"replaced": had_one})
    return token
