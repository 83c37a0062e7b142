"""Single sign-on: OpenID Connect's authorization-code flow, through mozilla-django-oidc.

Configured by environment variables alone (settings' "single sign-on" block); without a
client id none of this is reachable and the login page offers passwords only. The
provider's claims name the platform user (`OIDC_USERNAME_CLAIM`: an account of that
name, made with no usable password when missing), its e-mail address, and, through the
groups claim, whether it may sign in at all (`OIDC_REQUIRED_GROUPS`), is staff
(`OIDC_STAFF_GROUPS`, `OIDC_OPERATOR_GROUPS`) and is in the `operators` group
(`OIDC_OPERATOR_GROUPS`). Where a mapping is configured the provider decides, at each
sign-in, both ways; where none is, staff and groups stay as the admin left them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import Group, User
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.translation import gettext as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from llmplatform.users import OPERATORS_GROUP

logger = logging.getLogger(__name__)

Claims = Mapping[str, Any]


def claimed_groups(claims: Claims) -> set[str]:
    """The groups claim as a set: a list of names, or one string of names separated by spaces or commas."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return {str(name) for name in value}


def refusal(claims: Claims) -> str | None:
    """Why these claims may not sign in, or None when they may."""
    username = claims.get(settings.OIDC_USERNAME_CLAIM)
    if not isinstance(username, str) or not username or len(username) > 150:
        return _("The identity provider named no usable user name (claim %(claim)s).") % {
            "claim": settings.OIDC_USERNAME_CLAIM
        }
    required = set(settings.OIDC_REQUIRED_GROUPS)
    if required and not required & claimed_groups(claims):
        return _("Your account at %(provider)s is not in a group allowed to use this platform.") % {
            "provider": settings.OIDC_PROVIDER_NAME
        }
    return None


class PlatformOIDCBackend(OIDCAuthenticationBackend):
    """Maps a provider's claims to a platform user; returns None (refused) for claims that may not sign in."""

    request: HttpRequest

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The signature and nonce as the library checks them, and the issuer and audience too."""
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        issuer = settings.OIDC_OP_ISSUER
        if issuer and payload.get("iss") != issuer:
            raise SuspiciousOperation(f"ID token issued by {payload.get('iss')!r}, not {issuer!r}.")
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if "aud" in payload and settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation(f"ID token meant for {audience!r}, not this client.")
        return payload

    def verify_claims(self, claims: Claims) -> bool:
        reason = refusal(claims)
        if reason is not None:
            logger.warning("single sign-on refused for %r: %s", claims.get(settings.OIDC_USERNAME_CLAIM), reason)
            self.request.sso_refusal = reason  # type: ignore[attr-defined]  # read by CallbackView
        return reason is None

    def filter_users_by_claims(self, claims: Claims) -> Any:
        return User.objects.filter(username=claims[settings.OIDC_USERNAME_CLAIM])

    def create_user(self, claims: Claims) -> User:
        user = User.objects.create_user(claims[settings.OIDC_USERNAME_CLAIM])  # no usable password
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user: User, claims: Claims) -> User:
        """The e-mail address, staff flag and `operators` membership the claims say, where configured."""
        email = claims.get(settings.OIDC_EMAIL_CLAIM)
        if isinstance(email, str) and email:
            user.email = email
        groups = claimed_groups(claims)
        operator_groups = set(settings.OIDC_OPERATOR_GROUPS)
        staff_groups = set(settings.OIDC_STAFF_GROUPS) | operator_groups
        if staff_groups:
            user.is_staff = bool(groups & staff_groups)
        user.save()
        if operator_groups:
            operators = Group.objects.get(name=OPERATORS_GROUP)
            if groups & operator_groups:
                user.groups.add(operators)
            else:
                user.groups.remove(operators)
        return user


class SsoOnlyMixin:
    """404 while no provider is configured: the URLs exist, single sign-on does not."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.OIDC_ENABLED:
            raise Http404("Single sign-on is not configured.")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]  # the view's dispatch


class AuthenticateView(SsoOnlyMixin, OIDCAuthenticationRequestView):
    """Sends the browser to the provider's authorization endpoint (state, nonce, PKCE in the session)."""


class CallbackView(SsoOnlyMixin, OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back; a refusal lands on the login page, saying why."""

    request: HttpRequest

    def login_failure(self) -> HttpResponse:
        reason = getattr(self.request, "sso_refusal", None)
        messages.error(
            self.request,
            reason or _("%(provider)s did not sign you in.") % {"provider": settings.OIDC_PROVIDER_NAME},
        )
        return HttpResponseRedirect(resolve_url(settings.LOGIN_URL))
