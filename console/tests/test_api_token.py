"""The API-token page of the user menu: see one's own token, rotate it (a POST, audited)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
URL = reverse("console:api-token")
ROTATE = reverse("console:api-token-rotate")


def test_it_shows_the_users_own_token_from_the_user_menu(owner_session, owner, member):
    page = owner_session.get(URL).content.decode()
    assert f'<code class="mono" id="token-key">{owner.auth_token.key}</code>' in page
    assert member.auth_token.key not in page
    assert f'href="{URL}">API token</a>' in owner_session.get(reverse("console:dashboard")).content.decode()


def test_it_rotates_the_token_so_the_old_one_stops_working(owner_session, owner, client):
    old = owner.auth_token.key
    response = owner_session.post(ROTATE)
    assert response.status_code == 302 and response["Location"] == URL
    new = Token.objects.get(user=owner).key
    assert new != old
    assert client.get("/projects", HTTP_AUTHORIZATION=f"Token {old}").status_code == 401
    assert client.get("/projects", HTTP_AUTHORIZATION=f"Token {new}").status_code == 200
    event = AuditEvent.objects.get(verb="rotate API token")
    assert (event.actor, event.object_type, event.via) == (owner, "auth.user", "console")
    assert old not in str(event.changes) and new not in str(event.changes)


def test_it_gives_a_first_token_to_a_user_without_one(owner_session, owner):
    Token.objects.filter(user=owner).delete()
    assert 'id="no-token"' in owner_session.get(URL).content.decode()
    owner_session.post(ROTATE)
    assert Token.objects.filter(user=owner).exists()


def test_it_rotates_only_by_a_post_with_a_csrf_token(owner, owner_session):
    old = owner.auth_token.key
    assert owner_session.get(ROTATE).status_code == 405
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(owner)
    assert guarded.post(ROTATE).status_code == 403
    assert Token.objects.get(user=owner).key == old


def test_it_sends_anonymous_visitors_to_log_in(client):
    assert client.get(URL)["Location"].startswith(reverse("console:login"))
