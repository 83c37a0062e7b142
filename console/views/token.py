"""A person's own API token: see it, and replace it when it may have leaked."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from console import services


@login_required
def api_token(request: HttpRequest) -> HttpResponse:
    token = Token.objects.filter(user=request.user).first() if isinstance(request.user, User) else None
    return render(request, "console/api_token.html", {"token": token})


@login_required
@require_POST
def api_token_rotate(request: HttpRequest) -> HttpResponse:
    if not isinstance(request.user, User):  # login_required lets no one else in
        raise PermissionDenied
    services.rotate_api_token(user=request.user)
    messages.success(request, _("A new API token replaces the old one, which no longer works."))
    return redirect("console:api-token")
