"""The audit log, for staff: who did what to which object, through which door."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.models import AuditEvent

EVENTS_PER_PAGE = 50
DOORS = ("api", "console", "admin", "system")  # audit.middleware.door_of, or a task


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise PermissionDenied
    events = AuditEvent.objects.all()
    filters = {key: request.GET.get(key, "").strip() for key in ("actor", "object_type", "via")}
    if filters["actor"]:
        events = events.filter(actor_name=filters["actor"])
    if filters["object_type"]:
        events = events.filter(object_type=filters["object_type"])
    if filters["via"]:
        events = events.filter(via=filters["via"])
    query = request.GET.copy()
    query.pop("page", None)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "audit/list.html", {"page": page, "filters": filters, "doors": DOORS, "query": query.urlencode()}
    )
