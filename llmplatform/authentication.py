"""How often a caller may fail to prove who it is.

Passwords (the console's login form and the admin's) are guarded by django-axes (see
the settings): after LOGIN_FAILURE_LIMIT wrong passwords for one username from one
address, that username is refused from that address, without its password being
hashed, until LOGIN_LOCKOUT_MINUTES have passed since the last counted failure. The
same username from anywhere else, and anyone else from that address, still signs in,
so nobody can lock a person out by guessing at their name; a lockout always ends.

Tokens: `ThrottledTokenAuthentication` is DRF's TokenAuthentication whose failures are
counted per address in the cache, TOKEN_FAILURE_RATE at most (DRF's throttle, a
sliding window): past it a wrong token is answered 429 with Retry-After, not 401. A
valid token always works, whatever its address sent before: a key is 160 random bits,
so no guessing needs stopping more than this, while refusing valid keys would let one
broken script, or an attacker behind the same proxy, shut out every script there.

Both know a client by `client_ip`: the connection's address, or behind PROXY_COUNT
reverse proxies the one the outermost proxy saw (X-Forwarded-For).
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from llmplatform.prepared import Prepared


def client_ip(request: HttpRequest | Request) -> str:
    """The caller's address, as DRF's throttles tell it (REST_FRAMEWORK["NUM_PROXIES"] is PROXY_COUNT)."""
    # get_ident reads nothing but `headers` and `META`, which a Django request (django-axes') has too.
    return BaseThrottle().get_ident(cast(Request, request)) or ""


class TokenFailureThrottle(SimpleRateThrottle):
    """Wrong tokens per address: at most TOKEN_FAILURE_RATE (DRF's `<count>/<s|min|hour|day>`)."""

    scope = "token_failures"

    def get_rate(self) -> str:
        return settings.TOKEN_FAILURE_RATE

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}


class TooManyTokenFailures(exceptions.Throttled):
    default_detail = "Too many failed token authentications from your address."


# Every scripted request starts here: the token's user in one join, compiled once (llmplatform.prepared).
USER_BY_TOKEN: Prepared[User] = Prepared(lambda key: User.objects.filter(auth_token__key=key))


class ThrottledTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[User, str]:
        """DRF's checks and messages, but `request.auth` is the key itself rather than a Token row."""
        found = USER_BY_TOKEN.objects(key)
        if not found:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not found[0].is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return found[0], key

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            throttle = TokenFailureThrottle()
            if not throttle.allow_request(request, None):  # type: ignore[arg-type]  # no view runs before authentication
                raise TooManyTokenFailures(wait=throttle.wait()) from None
            raise
