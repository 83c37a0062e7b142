"""Logins, logouts and failed logins (Django's auth signals) as audit events."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User

from audit.services import record_sign_in

LOGIN, LOGOUT, LOGIN_FAILED = "login", "logout", "login failed"


def logged_in(sender: Any, user: User, **kwargs: Any) -> None:
    record_sign_in(verb=LOGIN, username=user.get_username(), user=user)


def logged_out(sender: Any, user: User | AnonymousUser | None, **kwargs: Any) -> None:
    if isinstance(user, User):
        record_sign_in(verb=LOGOUT, username=user.get_username(), user=user)


def login_failed(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    """Only the username of the credentials is kept (Django masks the password there anyway)."""
    username = str(credentials.get("username") or "")
    tried = User.objects.filter(username=username).first()
    record_sign_in(verb=LOGIN_FAILED, username=username, user=tried, succeeded=False)
