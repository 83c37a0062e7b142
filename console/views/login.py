"""The page of a refused login (django-axes' AXES_LOCKOUT_CALLABLE), in the console's look or the admin's."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse


def locked_out(request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None) -> HttpResponse:
    """429: too many wrong passwords for this username from this address; when to try again."""
    seconds = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds())
    in_admin = request.path.startswith(reverse("admin:index"))
    template = "admin/locked_out.html" if in_admin else "registration/locked_out.html"
    context = {"minutes": math.ceil(seconds / 60), "title": "", "site_header": ""}
    page = render(request, template, context, status=429)
    page["Retry-After"] = str(seconds)
    return page
