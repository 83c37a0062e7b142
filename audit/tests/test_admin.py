"""The audit log in the admin: operators read the kinds of objects as people name them, in their language."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from audit.services import record_event
from conftest import session_client

pytestmark = pytest.mark.django_db
URL = reverse("admin:audit_auditevent_changelist")


@pytest.fixture
def operator(staff):
    staff.is_superuser = True
    staff.save()
    return session_client(staff)


def visible_text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_it_names_kinds_verbs_and_doors_in_the_readers_language(operator, owner, project):
    record_event(actor=owner, action="update", target=project, verb="rename")
    record_event(actor=owner, action="action", target=owner, verb="rotate API token")

    english = visible_text(operator.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode())
    chinese = visible_text(operator.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode())
    only_users = visible_text(
        operator.get(URL, {"object_type": "auth.user"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )

    assert "Object type" in english and " Project " in english and " User " in english
    assert "对象类型" in chinese and " 项目 " in chinese and " 用户 " in chinese
    assert "projects.project" not in english + chinese and "auth.user" not in english + chinese
    assert "rotated the API token" in english and "更换了 API 令牌" in chinese and "rotate API token" not in chinese
    assert " system " in english and " 系统 " in chinese
    assert "rotated the API token" in only_users and "rename" not in only_users
