"""Operators edit policies in the admin; an edit there is a new version too."""

import pytest
from django.contrib.auth.models import Permission, User

from deid import services
from deid.models import DeidPolicy


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


def form_data(policy_name: str, entities: str, description: str = "") -> dict:
    return {
        "name": policy_name,
        "description": description,
        "entities": entities,
        "min_score": "0.5",
        "mask_char": "*",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }


def test_it_shows_policies_and_their_versions_but_never_the_secret(admin_client):
    policy = DeidPolicy.objects.get(name="default")
    page = admin_client.get(f"/admin/deid/deidpolicy/{policy.pk}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "2024-01-01" in content and policy.secret not in content
    assert admin_client.get("/admin/deid/deidpolicy/").status_code == 200
    assert admin_client.get("/admin/deid/deidjob/").status_code == 200


def test_it_creates_a_new_version_when_an_operator_edits_the_rules(admin_client):
    policy = DeidPolicy.objects.get(name="default")
    response = admin_client.post(
        f"/admin/deid/deidpolicy/{policy.pk}/change/", form_data("default", '{"PHONE_NUMBER": "redact"}', "edited")
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    policy.refresh_from_db()
    assert policy.versions.count() == 2 and policy.description == "edited"
    assert policy.current.config["entities"] == {"PHONE_NUMBER": "redact"}
    assert policy.versions.get(number=1).config["entities"]["PHONE_NUMBER"] == "pseudonymize"


def test_it_creates_policies_and_rejects_bad_rules(admin_client):
    response = admin_client.post("/admin/deid/deidpolicy/add/", form_data("ops", '{"URL": "mask"}'))
    assert response.status_code == 302
    assert DeidPolicy.objects.get(name="ops").current.config["entities"] == {"URL": "mask"}
    bad = admin_client.post("/admin/deid/deidpolicy/add/", form_data("bad", '{"URL": "shred"}'))
    assert bad.status_code == 200 and "Unknown operator" in bad.content.decode()
    assert not DeidPolicy.objects.filter(name="bad").exists()


def test_it_does_not_offer_to_delete_the_default_policy(admin_client):
    policy = DeidPolicy.objects.get(name="default")
    assert admin_client.get(f"/admin/deid/deidpolicy/{policy.pk}/delete/").status_code == 403


def test_it_shows_a_jobs_seed_only_to_operators_holding_the_mapping_permission(
    admin_client, staff, staff_session, owner, source_dataset
):
    policy = DeidPolicy.objects.get(name="default")
    job = services.start_dataset_deidentification(dataset=source_dataset, policy=policy, seed=987654321, actor=owner)
    staff.user_permissions.add(Permission.objects.get(codename="view_deidjob"))
    url = f"/admin/deid/deidjob/{job.pk}/change/"

    page = staff_session.get(url)

    assert page.status_code == 200 and job.target_name in page.content.decode()
    assert "987654321" not in page.content.decode()
    assert "987654321" in admin_client.get(url).content.decode()  # a superuser holds every permission
