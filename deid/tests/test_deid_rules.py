"""The de-identification rules, refused alike by the API, the console's playground and the admin.

Who may see original personal data, how much text one call may scrub and which
seeds there are live in deid.services and deid.models; the policy names' rule on
the model. Each front end that takes such input calls them and says the same sentence.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from audit.models import AuditEvent
from deid.models import MAX_SEED, MIN_SEED, DeidPolicy
from llmplatform.testing import admin_form_data

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


def test_it_scrubs_at_most_the_text_one_call_may_take(member_client, member_session, settings):
    settings.DEID_MAX_REQUEST_BYTES = 20
    says = f"At most 20 bytes of text per request; got {len(TEXT.encode())}."

    api = member_client.post(API, {"text": [TEXT]}, format="json")
    console = member_session.post(PLAYGROUND, playground_form())

    assert (api.status_code, console.status_code) == (413, 400)
    assert api.json() == {"detail": says}
    assert console.context["form"].errors["text"] == [says]


def test_it_takes_the_same_seeds(member_client, member_session):
    says = f"Ensure this value is less than or equal to {MAX_SEED}."

    api = member_client.post(API, {"text": [TEXT], "options": {"seed": MAX_SEED + 1}}, format="json")
    console = member_session.post(PLAYGROUND, playground_form(seed=MAX_SEED + 1))

    assert (api.status_code, console.status_code) == (400, 400)
    assert api.json()["errors"]["options"]["seed"] == [says]
    assert console.context["form"].errors["seed"] == [says]
    # The lowest seed gives the same pseudonym through either.
    api = member_client.post(API, {"text": [TEXT], "options": {"seed": MIN_SEED}}, format="json")
    console = member_session.post(PLAYGROUND, playground_form(seed=MIN_SEED))
    assert console.status_code == 200
    assert console.context["deidentified"] == api.json()["deidentified"][0]


def test_it_refuses_a_policy_name_another_policy_has(staff_client, admin_client):
    """The console has no policy editor; the API and the admin refuse alike."""
    says = "A policy named 'default' exists already."
    add = reverse("admin:deid_deidpolicy_add")

    api = staff_client.post("/v1/deid-policies", {"id": "default"}, format="json")
    admin_data = admin_form_data(admin_client.get(add))
    admin = admin_client.post(add, {**admin_data, "name": "default", "entities": json.dumps({"URL": "keep"})})

    assert (api.status_code, admin.status_code) == (400, 200)
    assert api.json()["errors"]["id"] == [says]
    assert admin.context["adminform"].form.errors["name"] == [says]
    assert DeidPolicy.objects.filter(name="default").count() == 1
