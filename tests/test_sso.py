"""Single sign-on against a real OpenID Connect provider on loopback (tests/oidc_provider, a process of
its own), the platform configured by environment variables alone and served by gunicorn; a browser's
walk through the authorization-code flow is a requests session following redirects across both."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.urls import reverse

from llmplatform.testing import free_port, manage_py, running, subprocess_env, wait_for
from llmplatform.users import OPERATORS_GROUP

PROVIDER_NAME = "Test IdP"
CLIENT_ID = "llmplatform"
CLIENT_SECRET = "client-secret-for-tests"
PEOPLE = {
    "carol": {"password": "pw-carol", "email": "carol@example.test", "groups": ["ml-team", "platform-ops"]},
    "dave": {"password": "pw-dave", "email": "dave@example.test", "groups": ["ml-team"]},
    "eve": {"password": "pw-eve", "email": "eve@example.test", "groups": ["contractors"]},
}


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code < 500
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def platform_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def provider(tmp_path_factory, platform_port: int) -> Iterator[dict[str, str]]:
    """The provider's discovery document; it knows the platform as client CLIENT_ID and the PEOPLE."""
    directory = tmp_path_factory.mktemp("oidc-provider")
    port = free_port()
    callback = f"http://127.0.0.1:{platform_port}/console/oidc/callback/"
    argv = [sys.executable, "-m", "tests.oidc_provider", str(port), callback, CLIENT_ID, CLIENT_SECRET]
    argv.append(json.dumps(PEOPLE))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(settings.BASE_DIR), "OIDC_PROVIDER_DIR": str(directory)}
    discovery = f"http://127.0.0.1:{port}/o/.well-known/openid-configuration"
    with running(argv, env=env, log=directory / "provider.log"):
        wait_for(lambda: answers(discovery), timeout=60, what="the provider")
        yield requests.get(discovery, timeout=10).json()


def sso_environment(provider: dict[str, str], **overrides: str) -> dict[str, str]:
    """The platform's settings for this provider, as an operator writes them from its discovery
    document (README, "Single sign-on")."""
    return {
        "OIDC_PROVIDER_NAME": PROVIDER_NAME,
        "OIDC_RP_CLIENT_ID": CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_OP_ISSUER": provider["issuer"],
        "OIDC_OP_AUTHORIZATION_ENDPOINT": provider["authorization_endpoint"],
        "OIDC_OP_TOKEN_ENDPOINT": provider["token_endpoint"],
        "OIDC_OP_USER_ENDPOINT": provider["userinfo_endpoint"],
        "OIDC_OP_JWKS_ENDPOINT": provider["jwks_uri"],
        "OIDC_REQUIRED_GROUPS": "ml-team",
        "OIDC_OPERATOR_GROUPS": "platform-ops",
        **overrides,
    }


@pytest.fixture
def platform(transactional_db, tmp_path, provider: dict[str, str], platform_port: int) -> Iterator[str]:
    """The platform under gunicorn on this test's database, with single sign-on configured."""
    Group.objects.get_or_create(name=OPERATORS_GROUP)  # made by a migration, gone with the last test's flush
    root = Path(settings.BASE_DIR)
    argv = [sys.executable, "-m", "gunicorn", "--chdir", str(root), "--config", str(root / "gunicorn.conf.py")]
    argv += ["llmplatform.wsgi", "--bind", f"127.0.0.1:{platform_port}", "--workers", "1", "--threads", "2"]
    base = f"http://127.0.0.1:{platform_port}"
    with running(argv, env=subprocess_env(**sso_environment(provider)), log=tmp_path / "gunicorn.log"):
        wait_for(lambda: answers(f"{base}/console/login/"), timeout=60, what="gunicorn to answer")
        yield base


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in_with_provider(platform: str, username: str, password: str) -> requests.Response:
    """What a person does: open the console's login page, follow "Sign in with", log in at the provider."""
    browser = requests.Session()
    login_page = browser.get(f"{platform}/console/login/?next=/console/projects/", timeout=10)
    link = re.search(rf'<a class="button" href="([^"]+)">Sign in with {PROVIDER_NAME}</a>', login_page.text)
    assert link, login_page.text
    provider_login = browser.get(urljoin(login_page.url, link.group(1).replace("&amp;", "&")), timeout=10)
    assert provider_login.url.startswith(urljoin(provider_login.url, "/login/")), provider_login.url
    form = {"csrfmiddlewaretoken": csrf_token(provider_login.text), "username": username, "password": password}
    return browser.post(provider_login.url, data=form, timeout=30)


def test_it_signs_people_in_through_the_provider_with_the_staff_and_group_its_claims_say(platform):
    operator = sign_in_with_provider(platform, "carol", "pw-carol")
    member = sign_in_with_provider(platform, "dave", "pw-dave")

    assert operator.url == f"{platform}/console/projects/"
    assert "carol" in operator.text
    assert member.url == f"{platform}/console/projects/"
    carol, dave = User.objects.get(username="carol"), User.objects.get(username="dave")
    assert (carol.email, carol.is_staff, list(carol.groups.values_list("name", flat=True))) == (
        "carol@example.test",
        True,
        ["operators"],
    )
    assert (dave.email, dave.is_staff, dave.groups.count()) == ("dave@example.test", False, 0)
    assert not carol.has_usable_password()


def test_it_signs_in_the_local_account_of_that_name_and_follows_the_provider_on_staff(platform):
    User.objects.create_user("dave", "old@example.test", "pw-local", is_staff=True)

    sign_in_with_provider(platform, "dave", "pw-dave")

    dave = User.objects.get(username="dave")
    assert (dave.email, dave.is_staff) == ("dave@example.test", False)
    assert dave.check_password("pw-local")


def test_it_refuses_someone_outside_the_required_group(platform):
    refused = sign_in_with_provider(platform, "eve", "pw-eve")

    assert refused.url.startswith(f"{platform}/console/login/")
    assert f"Your account at {PROVIDER_NAME} is not in a group allowed to use this platform." in refused.text
    assert not User.objects.filter(username="eve").exists()


def test_it_keeps_passwords_working_beside_single_sign_on(client, owner, settings):
    settings.OIDC_ENABLED, settings.OIDC_PROVIDER_NAME = True, PROVIDER_NAME
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, "llmplatform.sso.PlatformOIDCBackend"]

    page = client.get(reverse("console:login")).content.decode()
    signed_in = client.post(reverse("console:login"), {"username": "alice", "password": "pw-alice"})

    assert f"Sign in with {PROVIDER_NAME}" in page
    assert signed_in["Location"] == reverse("console:dashboard")


def test_it_offers_the_provider_in_chinese(client, settings):
    settings.OIDC_ENABLED, settings.OIDC_PROVIDER_NAME = True, "企业微信"

    page = client.get(reverse("console:login"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()

    assert "使用 企业微信 登录" in page


def test_it_offers_passwords_only_while_no_provider_is_configured(client, owner):
    page = client.get(reverse("console:login")).content.decode()

    assert "Sign in with" not in page
    assert client.get(reverse("console:oidc-authenticate")).status_code == 404
    assert client.post(reverse("console:login"), {"username": "alice", "password": "pw-alice"}).status_code == 302


def test_it_names_what_a_half_configured_provider_lacks(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "1", "DATA_DIR": str(tmp_path), "OIDC_RP_CLIENT_ID": CLIENT_ID}
    refused = subprocess.run(manage_py("check"), env=env, capture_output=True, text=True, timeout=60)

    assert refused.returncode != 0
    assert "single sign-on needs OIDC_OP_AUTHORIZATION_ENDPOINT, OIDC_OP_TOKEN_ENDPOINT" in refused.stderr
