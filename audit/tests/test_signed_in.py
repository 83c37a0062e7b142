"""audit.services.signed_in: who a service records as the one acting."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.utils.functional import SimpleLazyObject

from audit.services import signed_in


def test_it_names_a_signed_in_user_even_behind_a_lazy_request_user(owner):
    assert signed_in(owner) == owner
    assert signed_in(SimpleLazyObject(lambda: owner)) == owner


def test_it_names_nobody_for_an_anonymous_request_or_the_platform():
    assert signed_in(AnonymousUser()) is None
    assert signed_in(None) is None
