"""Every API route asks for credentials: a token (scripts) or a session (console)."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.urls.resolvers import RegexPattern
from rest_framework.authtoken.models import Token

from llmplatform.authentication import TokenFailureThrottle
from tests.routes import PUBLIC_PATHS, all_routes, fill_regex, protected_api_routes

METHODS = ["get", "post", "put", "patch", "delete"]


def test_it_finds_concrete_paths_for_every_route():
    routes = all_routes()
    assert any(route.path == "/v1/audit-events" for route in routes)
    unresolved = [route.pattern for route in routes if not route.resolves_to_itself()]
    assert unresolved == []


@pytest.mark.parametrize("method", METHODS)
def test_it_answers_anonymous_calls_on_every_api_route_with_401_json(client, db, method):
    answers = {}
    for route in protected_api_routes():
        response = getattr(client, method)(route.path)
        body = response.json() if response.headers.get("Content-Type") == "application/json" else None
        answers[route.path] = (response.status_code, bool(body and body.get("detail")))
    assert answers and set(answers.values()) == {(401, True)}, answers


def test_it_lets_anonymous_callers_read_health_and_the_schema(client, db):
    for path in sorted(PUBLIC_PATHS):
        assert client.get(path).status_code in (200, 503), path


def test_it_accepts_a_token(staff_client):
    assert staff_client.get("/v1/audit-events").status_code == 200


def test_it_refuses_an_unknown_token(client, db):
    response = client.get("/v1/audit-events", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert response.headers["WWW-Authenticate"] == "Token"


def test_it_refuses_the_token_of_a_deactivated_user(staff_client, staff):
    staff.is_active = False
    staff.save(update_fields=["is_active"])
    response = staff_client.get("/v1/audit-events")
    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted."}


def test_it_accepts_a_session_login(client, staff):
    # The request lets the login throttle (django-axes) tell where the attempt came from.
    assert client.login(request=HttpRequest(), username="operator", password="pw-operator")
    assert client.get("/v1/audit-events").status_code == 200


def test_it_creates_a_user_with_a_token_and_prints_both_password_and_token(db, capsys):
    call_command("create_api_token", "carol")
    output = capsys.readouterr().out
    user = User.objects.get(username="carol")
    password = next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("password: "))
    assert f"token: {user.auth_token.key}" in output
    assert user.check_password(password)
    assert not user.is_staff


def test_it_prints_the_existing_token_and_sets_a_given_password(db, capsys, owner):
    call_command("create_api_token", "alice", "--password", "a-new-password", "--staff")
    output = capsys.readouterr().out
    owner.refresh_from_db()
    assert f"token: {owner.auth_token.key}" in output
    assert "password:" not in output
    assert owner.check_password("a-new-password")
    assert owner.is_staff
    assert Token.objects.filter(user=owner).count() == 1


def test_it_grants_the_permission_the_readmes_mapping_example_needs(db, capsys, client):
    call_command("create_api_token", "carol", "--grant", "deid.view_pii_mapping")
    output = capsys.readouterr().out
    token = next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("token: "))
    readme_example = {
        "policy_id": "default",
        "text": ["客户手机号 13812345678"],
        "options": {"return_mapping": True, "seed": 42},
    }

    response = client.post(
        "/v1/deidentify:test", readme_example, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}"
    )

    assert "granted: deid.view_pii_mapping" in output
    assert response.status_code == 200, response.json()
    assert response.json()["mapping"][0]["original"] == "13812345678"


def test_it_refuses_an_unknown_permission_before_creating_anyone(db):
    with pytest.raises(CommandError, match=re.escape("No permission 'deid.view_everything'")):
        call_command("create_api_token", "carol", "--grant", "deid.view_everything")
    assert not User.objects.filter(username="carol").exists()


def test_it_fills_router_style_regex_routes():
    pattern = RegexPattern(r"^projects/(?P<pk>[^/.]+)/runs\.(?P<format>[a-z0-9]+)/?$")
    assert fill_regex(pattern) == "projects/00000000-0000-4000-8000-000000000000/runs.1/"


def call_with_token(client, key: str, address: str = "203.0.113.7", **headers):
    return client.get("/v1/audit-events", HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=address, **headers)


@pytest.fixture
def three_failures_a_minute(settings) -> None:
    settings.TOKEN_FAILURE_RATE = "3/min"


def test_it_answers_429_to_an_address_that_sent_too_many_wrong_tokens(client, db, three_failures_a_minute, monkeypatch):
    # The clock stands still so that the wait it names does not depend on how fast four requests ran.
    now = time.time()
    monkeypatch.setattr(TokenFailureThrottle, "timer", lambda throttle: now)
    failures = [call_with_token(client, f"wrong-{n}").status_code for n in range(3)]

    response = call_with_token(client, "wrong-4")

    assert failures == [401, 401, 401]
    assert response.status_code == 429
    assert response.json() == {
        "detail": "Too many failed token authentications from your address. Expected available in 60 seconds."
    }
    assert response["Retry-After"] == "60"


def test_it_never_refuses_a_valid_token_nor_another_address(client, staff, three_failures_a_minute):
    for n in range(4):
        call_with_token(client, f"wrong-{n}")

    assert call_with_token(client, staff.auth_token.key).status_code == 200
    assert call_with_token(client, "wrong", address="198.51.100.2").status_code == 401


def test_it_answers_401_again_once_the_window_has_passed(client, db, three_failures_a_minute, monkeypatch):
    for n in range(4):
        call_with_token(client, f"wrong-{n}")
    later = time.time() + 61
    monkeypatch.setattr(TokenFailureThrottle, "timer", lambda throttle: later)

    assert call_with_token(client, "wrong").status_code == 401


def test_it_trusts_x_forwarded_for_only_behind_as_many_proxies_as_configured(client, db, settings):
    settings.TOKEN_FAILURE_RATE = "3/min"
    spoofed = [call_with_token(client, "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code for n in range(4)]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # One proxy appends the address it saw: the last entry is the client's, what comes before the client wrote.
    clients = [call_with_token(client, "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code for n in range(10, 14)]
    one_client = [
        call_with_token(client, "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 192.0.2.99").status_code
        for n in range(4)
    ]

    assert spoofed == [401, 401, 401, 429]
    assert clients == [401, 401, 401, 401]
    assert one_client == [401, 401, 401, 429]
