"""Login, logout and the language: from the browser's Accept-Language, or the switcher."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.db.models import F
from django.test import Client
from django.urls import reverse

from runs.models import RunStatus

pytestmark = pytest.mark.django_db
LOGIN = reverse("console:login")


def test_it_logs_in_and_lands_on_the_dashboard(client, owner):
    response = client.post(LOGIN, {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302
    assert response["Location"] == reverse("console:dashboard")


def test_it_refuses_a_wrong_password(client, owner):
    response = client.post(LOGIN, {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_it_logs_out_with_a_post(owner_session):
    response = owner_session.post(reverse("console:logout"))
    assert response.status_code == 302
    assert owner_session.get(reverse("console:dashboard")).status_code == 302


def test_it_redirects_the_site_root_to_the_console(client):
    assert client.get("/")["Location"] == "/console/"


def test_it_speaks_chinese_to_a_chinese_browser(client):
    page = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "登录" in page


def test_it_switches_language_with_the_switcher(owner_session, run):
    owner_session.post("/i18n/setlang/", {"language": "zh-hans", "next": "/console/"})
    page = owner_session.get(reverse("console:dashboard")).content.decode()
    assert "仪表盘" in page
    assert "运行中" in page  # RunStatus.RUNNING's Chinese label


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (RunStatus.QUEUED, "排队中"),
        (RunStatus.RUNNING, "运行中"),
        (RunStatus.COMPLETED, "已完成"),
        (RunStatus.FAILED, "失败"),
        (RunStatus.CANCELLED, "已取消"),
    ],
)
def test_it_labels_run_statuses_as_seed_002_does(status, label):
    from django.utils import translation

    with translation.override("zh-hans"):
        assert str(RunStatus(status).label) == label


ATTACKER = "203.0.113.7"


def log_in(client, password: str, *, username: str = "alice", address: str = ATTACKER):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def lock_out(client, settings, **who) -> list[int]:
    return [log_in(client, "wrong", **who).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]


def test_it_refuses_even_the_right_password_after_too_many_wrong_ones(client, owner, settings):
    assert lock_out(client, settings) == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]

    response = log_in(client, "pw-alice")

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "Try again in 15 minutes." in response.content.decode()
    assert client.get(reverse("console:dashboard"))["Location"].startswith(LOGIN)


def test_it_hashes_no_password_while_a_username_is_locked_out(client, owner, settings, monkeypatch):
    lock_out(client, settings)
    checked = []
    monkeypatch.setattr(User, "check_password", lambda user, password: checked.append(password))

    for _ in range(5):
        log_in(client, "pw-alice")

    assert checked == []


def test_it_lets_the_person_in_from_another_address_and_others_in_from_that_one(client, owner, member, settings):
    lock_out(client, settings)

    assert log_in(client, "pw-alice", address="198.51.100.2").status_code == 302
    assert log_in(Client(), "pw-bob", username="bob").status_code == 302


def test_it_lets_the_person_in_once_the_lockout_has_passed(client, owner, settings):
    lock_out(client, settings)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME)

    assert log_in(client, "pw-alice").status_code == 302


def test_it_forgets_the_wrong_passwords_of_whoever_then_logs_in(client, owner, settings):
    almost = settings.AXES_FAILURE_LIMIT - 1
    for _ in range(2):
        assert [log_in(client, "wrong").status_code for _ in range(almost)] == [200] * almost
        assert log_in(client, "pw-alice").status_code == 302
        client.post(reverse("console:logout"))


def test_it_says_so_in_chinese(client, owner, settings):
    lock_out(client, settings)

    page = client.post(
        LOGIN, {"username": "alice", "password": "pw-alice"}, REMOTE_ADDR=ATTACKER, HTTP_ACCEPT_LANGUAGE="zh-CN"
    )

    assert page.status_code == 429
    assert "登录失败次数过多" in page.content.decode()
