"""POST /v1/deidentify:test, exactly as the contract says, and its bad inputs."""

import pytest
from django.contrib.auth.models import Permission

from audit.models import AuditEvent
from deid.recognizers import MOBILE_PREFIXES

URL = "/v1/deidentify:test"


@pytest.fixture
def mapping_client(member, member_client):
    member.user_permissions.add(Permission.objects.get(codename="view_pii_mapping"))
    return member_client


def post(client, body):
    return client.post(URL, body, format="json")


def test_it_answers_the_contract_example(mapping_client):
    response = post(
        mapping_client,
        {
            "policy_id": "default",
            "text": ["客户手机号 13812345678"],
            "options": {"locale": "zh-CN", "format": "text", "return_mapping": True, "seed": 42},
        },
    )
    assert response.status_code == 200
    body = response.json()
    [text] = body["deidentified"]
    pseudo = text.removeprefix("客户手机号 ")
    assert pseudo != "13812345678" and len(pseudo) == 11 and pseudo[:3] in MOBILE_PREFIXES
    assert body["mapping"] == [
        {
            "type": "PHONE_NUMBER",
            "original": "13812345678",
            "pseudo": pseudo,
            "text_index": 0,
            "start": 6,
            "end": 17,
            "score": 1.0,
        }
    ]
    assert body["policy_version"] == "2024-01-01"
    assert body["counts"] == {"PHONE_NUMBER": 1}


def test_it_is_deterministic_per_seed(owner_client):
    def run(seed):
        body = {"text": ["手机13812345678，邮箱a.b@example.com"], "options": {"seed": seed}}
        return post(owner_client, body).json()["deidentified"]

    assert run(42) == run(42)
    assert run(42) != run(43)


def test_it_omits_the_mapping_unless_asked(owner_client):
    body = post(owner_client, {"policy_id": "default", "text": ["13812345678"]}).json()
    assert "mapping" not in body
    assert "13812345678" not in str(body)


def test_it_refuses_the_mapping_without_the_pii_permission(owner_client, staff_client):
    for client in (owner_client, staff_client):
        response = post(client, {"text": ["13812345678"], "options": {"return_mapping": True}})
        assert response.status_code == 403
        assert "deid.view_pii_mapping" in response.json()["detail"]


def test_it_audits_who_saw_the_mapping_without_the_personal_data(mapping_client, member):
    post(mapping_client, {"text": ["身份证11010519491231002X"], "options": {"return_mapping": True}})
    event = AuditEvent.objects.get(verb="reveal_mapping")
    assert event.actor == member
    assert event.changes["entities"] == {"ID_CARD": 1}
    assert "11010519491231002X" not in str(event.changes) + event.object_repr


def test_it_scrubs_string_values_of_json_items(owner_client):
    item = '{"13812345678": "13812345678", "n": 1}'
    response = post(owner_client, {"text": [item], "options": {"format": "json"}})
    assert response.status_code == 200
    out = response.json()["deidentified"][0]
    assert out.startswith('{"13812345678": "1') and out.count("13812345678") == 1


def test_it_handles_deeply_nested_json_without_a_server_error(owner_client):
    deep = "[" * 400 + '"13812345678"' + "]" * 400
    response = post(owner_client, {"text": [deep], "options": {"format": "json"}})
    assert response.status_code == 200 and "13812345678" not in response.json()["deidentified"][0]
    too_deep = "[" * 100_000 + "]" * 100_000
    assert post(owner_client, {"text": [too_deep], "options": {"format": "json"}}).status_code == 400


def test_it_needs_authentication(anonymous_client):
    assert post(anonymous_client, {"text": ["x"]}).status_code in (401, 403)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"policy_id": "nope", "text": ["x"]}, 404, "policy"),
        ({"text": ["x", 5]}, 400, "text"),
        ({"text": [None]}, 400, "text"),
        ({"text": "not a list"}, 400, "text"),
        ({"text": []}, 400, "text"),
        ({"text": ["x"], "options": {"seed": "42"}}, 400, "seed"),
        ({"text": ["x"], "options": {"seed": 4.2}}, 400, "seed"),
        ({"text": ["x"], "options": {"seed": True}}, 400, "seed"),
        ({"text": ["x"], "options": {"format": "xml"}}, 400, "format"),
        ({"text": ["not json"], "options": {"format": "json"}}, 400, "JSON"),
        ({"text": ["x"], "options": {"locale": "fr"}}, 400, "locale"),
        ({"text": ["x"], "options": {"locale": 7}}, 400, "locale"),
    ],
)
def test_it_rejects_bad_input_naming_what_is_wrong(owner_client, body, status, field):
    response = post(owner_client, body)
    assert response.status_code == status
    assert field in response.json()["detail"]


def test_it_refuses_too_many_texts_or_bytes_with_413(owner_client, settings):
    settings.DEID_MAX_TEXTS = 3
    settings.DEID_MAX_REQUEST_BYTES = 30
    assert post(owner_client, {"text": ["a"] * 4}).status_code == 413
    too_big = post(owner_client, {"text": ["手机" * 6]})  # 36 bytes of UTF-8
    assert too_big.status_code == 413 and "bytes" in too_big.json()["detail"]
    assert post(owner_client, {"text": ["a"] * 3}).status_code == 200


def test_it_appears_in_the_openapi_schema(owner_client):
    schema = owner_client.get("/openapi.json", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/v1/deidentify:test"]["post"]
    assert operation["operationId"] == "deidentify_test"
    assert "/v1/deid-policies/{policy_id}" in schema["paths"]
    locale = schema["components"]["schemas"]["DeidOptionsRequest"]["properties"]["locale"]
    assert locale["default"] == "both" and all(name in locale["description"] for name in ("zh-CN", "en", "both"))


@pytest.mark.parametrize(
    ("locale", "found"),
    [
        (None, {"PERSON": 2, "ADDRESS": 1, "PHONE_NUMBER": 1}),
        ("both", {"PERSON": 2, "ADDRESS": 1, "PHONE_NUMBER": 1}),
        ("zh-CN", {"PERSON": 1, "ADDRESS": 1, "PHONE_NUMBER": 1}),
        ("zh-Hans", {"PERSON": 1, "ADDRESS": 1, "PHONE_NUMBER": 1}),
        ("en-US", {"PERSON": 1, "PHONE_NUMBER": 1}),
    ],
)
def test_it_chooses_the_name_recognisers_by_locale(owner_client, locale, found):
    text = "客户张三，住址：北京市海淀区中关村大街1号，手机13812345678; ask for Alice Johnson"
    options = {} if locale is None else {"locale": locale}
    body = post(owner_client, {"text": [text], "options": options}).json()
    assert body["counts"] == found
    assert ("张三" in body["deidentified"][0]) == ("ADDRESS" not in found)  # Chinese names go with addresses
