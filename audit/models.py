"""Who did what to which object, when and from where."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    # Lifecycle actions that are not plain edits (cancel a run, stop a deployment...).
    ACTION = "action", _("Action")


DOORS: dict[str, Promise] = {  # audit.middleware.door_of, or the platform itself
    "api": _("API"),
    "console": _("console"),
    "admin": _("admin"),
    "system": _("system"),
}
VERBS: dict[str, Promise] = {  # every verb the platform records (audit.services.record_event's `verb`)
    "login": _("logged in"),
    "logout": _("logged out"),
    "login failed": _("login failed"),
    "submit": _("submitted"),
    "start": _("started"),
    "stop": _("stopped"),
    "cancel": _("cancelled"),
    "request_cancel": _("asked to cancel"),
    "abort": _("aborted"),
    "fail": _("failed"),
    "finish": _("finished"),
    "completed": _("completed"),
    "failed": _("failed"),
    "cancelled": _("cancelled"),
    "resume": _("resumed"),
    "retry": _("retried"),
    "requeue": _("put back in the queue"),
    "preempt": _("preempted"),
    "stall": _("stalled"),
    "tag": _("tagged"),
    "replay": _("delivered again"),
    "retention": _("removed by the retention policy"),
    "start upload": _("started an upload"),
    "finish upload": _("finished an upload"),
    "validate": _("validated"),
    "measure token lengths": _("measured token lengths"),
    "reveal_mapping": _("revealed the de-identification mapping"),
    "rotate API token": _("rotated the API token"),
}


def verb_name(verb: str) -> str:
    """What the platform did, as a phrase in the reader's language: a plain edit's verb is its action's
    name (record_event's default); a verb it no longer records, as recorded."""
    if verb in VERBS:
        return str(VERBS[verb])
    return str(AuditAction(verb).label) if verb in AuditAction.values else verb


def door_name(via: str) -> str:
    return str(DOORS.get(via, via))


def object_type_name(label: str) -> str:
    """What people call a kind of object the log names (`datasets.datasetfile`: "Dataset file"), in their
    language; a label no installed model has any more, as recorded."""
    try:
        return str(capfirst(apps.get_model(label)._meta.verbose_name))
    except (LookupError, ValueError):
        return label


class AuditEvent(models.Model):
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_name = models.CharField(max_length=150, blank=True, verbose_name=_("actor name"))
    action = models.CharField(max_length=16, choices=AuditAction.choices, verbose_name=_("action"))
    verb = models.CharField(max_length=64, blank=True, help_text=_("e.g. cancel, tag, stop"), verbose_name=_("verb"))
    object_type = models.CharField(max_length=64, verbose_name=_("object type"))
    object_id = models.CharField(max_length=64, verbose_name=_("object ID"))
    object_repr = models.CharField(max_length=200, blank=True, verbose_name=_("object repr"))
    changes = models.JSONField(default=dict, blank=True, verbose_name=_("changes"))
    via = models.CharField(max_length=16, blank=True, help_text=_("api, console, admin, system"), verbose_name=_("via"))
    client_address = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("client address"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.actor_name or 'system'} {self.verb or self.action} {self.object_type} {self.object_repr}"
