"""audit.services.signed_in: who a service records as the one acting."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import AnonymousUser, User
from django.utils.functional import SimpleLazyObject

from audit.services import signed_in


def test_it_names_a_signed_in_user_even_behind_a_lazy_request_user(owner):
    assert signed_in(owner) == owner
    # request.user is such a proxy; Django's types call it the user it stands for.
    assert signed_in(cast(User, SimpleLazyObject(lambda: owner))) == owner


def test_it_names_nobody_for_an_anonymous_request_or_the_platform():
    assert signed_in(AnonymousUser()) is None
    assert signed_in(None) is None
