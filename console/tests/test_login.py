"""Login, logout and the language: from the browser's Accept-Language, or the switcher."""

from __future__ import annotations

import pytest
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
