"""The de-identification playground: deid.services with the policy picked, entities highlighted."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
URL = reverse("console:deid")
TEXT = "客户手机号13812345678，邮箱 zhang.san@example.com"


def marks(page: str) -> list[tuple[str, str]]:
    chunks = page.split('<mark class="entity"')[1:]
    return [(chunk.split('data-type="')[1].split('"')[0], chunk.split(">")[1].split("<")[0]) for chunk in chunks]


def test_it_highlights_pseudonyms_by_entity_type(member_session):
    response = member_session.post(URL, {"policy": "default", "text": TEXT, "seed": 42})
    page = response.content.decode()
    found = dict(marks(page))
    assert set(found) == {"PHONE_NUMBER", "EMAIL_ADDRESS"}
    assert found["EMAIL_ADDRESS"].count("@") == 1
    assert "13812345678" not in page.split('id="deid-output"')[1]
    assert found["PHONE_NUMBER"].startswith("1") and len(found["PHONE_NUMBER"]) == 11


def test_it_is_deterministic_for_a_seed(member_session):
    first = marks(member_session.post(URL, {"policy": "default", "text": TEXT, "seed": 7}).content.decode())
    again = marks(member_session.post(URL, {"policy": "default", "text": TEXT, "seed": 7}).content.decode())
    assert first == again


def test_it_shows_originals_only_with_the_permission_and_audits_it(member_session, member):
    asked = member_session.post(URL, {"policy": "default", "text": TEXT, "seed": 1, "reveal_mapping": "on"})
    assert "Original" not in asked.content.decode().split('id="deid-result"')[1]
    member.user_permissions.add(Permission.objects.get(codename="view_pii_mapping"))
    member_session.force_login(member)
    shown = member_session.post(URL, {"policy": "default", "text": TEXT, "seed": 1, "reveal_mapping": "on"})
    assert "13812345678" in shown.content.decode().split('id="deid-result"')[1]
    assert AuditEvent.objects.filter(verb="reveal_mapping", actor=member).count() == 1


def test_it_answers_htmx_with_the_result_panel_only(member_session):
    response = member_session.post(URL, {"policy": "default", "text": TEXT, "seed": 0}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert page.lstrip().startswith('<section class="panel" id="deid-result"')


def test_it_refuses_an_unknown_policy(member_session):
    response = member_session.post(URL, {"policy": "nope", "text": TEXT, "seed": 0})
    assert response.status_code == 400
