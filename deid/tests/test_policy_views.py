"""/v1/deid-policies: read by anyone signed in, changed by staff; edits make versions."""

from django.contrib.auth.models import Permission

from deid.models import DeidPolicy

URL = "/v1/deid-policies"


def test_it_lists_the_default_policy_without_its_secret(owner_client):
    response = owner_client.get(URL)
    assert response.status_code == 200
    [default] = response.json()
    assert default["id"] == "default" and default["policy_version"] == "2024-01-01"
    assert "LONG_NUMBER" not in default["entities"] and default["entities"]["ID_CARD"] == "pseudonymize"
    secret = DeidPolicy.objects.get(name="default").secret
    assert "secret" not in default and secret not in response.content.decode()


def test_it_creates_a_policy_and_uses_it(staff_client):
    response = staff_client.post(
        URL, {"id": "strict", "entities": {"PHONE_NUMBER": "redact", "LONG_NUMBER": "mask"}}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["entities"] == {"PHONE_NUMBER": "redact", "LONG_NUMBER": "mask"}
    out = staff_client.post(
        "/v1/deidentify:test", {"policy_id": "strict", "text": ["手机13812345678 编号20231123000123"]}, format="json"
    ).json()
    assert out["deidentified"] == ["手机<PHONE_NUMBER> 编号**************"]


def test_it_makes_a_new_version_on_each_rule_change_and_keeps_the_old(staff_client):
    staff_client.post(URL, {"id": "p1", "entities": {"EMAIL_ADDRESS": "mask"}}, format="json")
    first = staff_client.get(f"{URL}/p1").json()["policy_version"]
    changed = staff_client.patch(f"{URL}/p1", {"entities": {"EMAIL_ADDRESS": "redact"}}, format="json").json()
    assert changed["policy_version"] != first and changed["entities"] == {"EMAIL_ADDRESS": "redact"}
    unchanged = staff_client.patch(f"{URL}/p1", {"description": "only words"}, format="json").json()
    assert unchanged["policy_version"] == changed["policy_version"]
    versions = staff_client.get(f"{URL}/p1/versions").json()
    assert [v["policy_version"] for v in versions] == [changed["policy_version"], first]
    assert versions[1]["config"]["entities"] == {"EMAIL_ADDRESS": "mask"}


def test_it_reports_the_version_used_by_deidentify(staff_client):
    staff_client.patch(f"{URL}/default", {"min_score": 0.9}, format="json")
    out = staff_client.post("/v1/deidentify:test", {"text": ["x"]}, format="json").json()
    assert out["policy_version"] == staff_client.get(f"{URL}/default").json()["policy_version"] != "2024-01-01"


def test_it_lets_only_staff_or_permission_holders_change_policies(member, member_client):
    body = {"id": "mine", "entities": {"URL": "keep"}}
    assert member_client.post(URL, body, format="json").status_code == 403
    assert member_client.patch(f"{URL}/default", {"min_score": 0.1}, format="json").status_code == 403
    member.user_permissions.add(Permission.objects.get(codename="add_deidpolicy"))
    assert member_client.post(URL, body, format="json").status_code == 201


def test_it_rejects_bad_rules_and_duplicate_ids(staff_client):
    bad = staff_client.post(URL, {"id": "x", "entities": {"NAME": "mask"}}, format="json")
    assert bad.status_code == 400 and "NAME" in bad.json()["detail"]
    assert staff_client.post(URL, {"id": "x", "entities": {"URL": "shred"}}, format="json").status_code == 400
    duplicate = staff_client.post(URL, {"id": "default"}, format="json")
    assert duplicate.status_code == 400 and "exists" in duplicate.json()["detail"]
    assert staff_client.patch(f"{URL}/default", {"id": "renamed"}, format="json").status_code == 400


def test_it_deletes_policies_but_not_the_default(staff_client):
    staff_client.post(URL, {"id": "gone", "entities": {"URL": "keep"}}, format="json")
    assert staff_client.delete(f"{URL}/gone").status_code == 204
    assert staff_client.get(f"{URL}/gone").status_code == 404
    assert staff_client.delete(f"{URL}/default").status_code == 409


def test_it_lists_many_policies_in_a_fixed_number_of_queries(staff_client, django_assert_max_num_queries):
    for index in range(5):
        staff_client.post(URL, {"id": f"p{index}", "entities": {"URL": "keep"}}, format="json")
    with django_assert_max_num_queries(4):  # session/token, user, policies with their versions
        assert len(staff_client.get(URL).json()) == 6
