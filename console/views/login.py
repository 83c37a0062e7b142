"""The login page (passwords, and single sign-on where a provider is configured), and the page of a
refused login (django-axes' AXES_LOCKOUT_CALLABLE), in the console's look or the admin's."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse


def locked_out(request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None) -> HttpResponse:
    """429: too many wrong passwords for this username from this address; when to try again."""
    seconds = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds())
    context: dict[str, Any] = {"minutes": math.ceil(seconds / 60)}
    if request.path.startswith(reverse("admin:index")):
        page = render(request, "admin/locked_out.html", {**admin.site.each_context(request), **context}, status=429)
    else:
        page = render(request, "registration/locked_out.html", context, status=429)
    page["Retry-After"] = str(seconds)
    return page


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sso_provider"] = settings.OIDC_PROVIDER_NAME if settings.OIDC_ENABLED else None
        return context
