"""The de-identification rules, refused alike by the API and the console's playground.

Who may see original personal data lives in deid.services; each front end that
takes such input calls it and says the same sentence.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
API = "/v1/deidentify:test"
PLAYGROUND = reverse("console:deid")
TEXT = "客户手机号13812345678"


def playground_form(**fields: str | int) -> dict[str, str | int]:
    return {"policy": "default", "text": TEXT, "seed": 0, **fields}


def test_it_shows_original_personal_data_only_to_holders_of_the_permission(member, member_client, member_session):
    says = "return_mapping shows the original personal data; it needs the deid.view_pii_mapping permission."

    api = member_client.post(API, {"text": [TEXT], "options": {"return_mapping": True}}, format="json")
    console = member_session.post(PLAYGROUND, playground_form(reveal_mapping="on"))

    assert (api.status_code, console.status_code) == (403, 400)
    assert api.json() == {"detail": says}
    assert console.context["form"].errors["reveal_mapping"] == [says]
    assert "13812345678" not in console.content.decode().split('id="deid-result"')[1]
    assert not AuditEvent.objects.filter(verb="reveal_mapping").exists()

    member.user_permissions.add(Permission.objects.get(codename="view_pii_mapping"))
    member_session.force_login(member)
    api = member_client.post(API, {"text": [TEXT], "options": {"return_mapping": True}}, format="json")
    console = member_session.post(PLAYGROUND, playground_form(reveal_mapping="on"))
    assert api.json()["mapping"][0]["original"] == "13812345678"
    assert "13812345678" in console.content.decode().split('id="deid-result"')[1]
    assert AuditEvent.objects.filter(verb="reveal_mapping", actor=member).count() == 2
