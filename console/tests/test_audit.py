from __future__ import annotations

import pytest
from django.urls import reverse

from audit.services import record_event

pytestmark = pytest.mark.django_db
URL = reverse("console:audit")


def test_it_shows_staff_who_did_what(staff_session, owner, project):
    record_event(actor=owner, action="update", target=project, changes={"owner": ["a", "b"]}, verb="update")
    page = staff_session.get(URL).content.decode()
    assert "alice" in page and "projects.project" in page and "qwen-finetune" in page


def test_it_filters_by_user(staff_session, owner, member, project):
    record_event(actor=owner, action="update", target=project, verb="rename")
    record_event(actor=member, action="action", target=project, verb="archive")
    page = staff_session.get(URL, {"actor": "bob"}).content.decode()
    assert "archive" in page and "rename" not in page


def test_it_is_forbidden_to_everyone_but_staff(owner_session, member_session):
    assert owner_session.get(URL).status_code == 403
    assert member_session.get(URL).status_code == 403


def test_it_shows_the_nav_link_to_staff_only(staff_session, owner_session):
    dashboard = reverse("console:dashboard")
    assert URL in staff_session.get(dashboard).content.decode()
    assert URL not in owner_session.get(dashboard).content.decode()
