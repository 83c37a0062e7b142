"""/openapi.json tells the truth (llmplatform.schema): every status an operation answers is
documented, with the body it comes with, and every field that can be null says so.

The first tests read the document; the others make the platform refuse for real and
check the answer against what the document says of its operation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from rest_framework import serializers
from schemathesis.core.transport import Response

from datasets import services as datasets_services
from datasets.models import Dataset
from datasets.tests.conftest import SFT_RECORD, jsonl
from deid.models import DeidJob, DeidPolicyVersion

pytestmark = pytest.mark.django_db

SAFE = {"get", "head", "options"}
CONTRACT_APPS = {"audit", "datasets", "deid", "deployments", "projects", "runs"}


@pytest.fixture
def schema(client) -> dict:
    return client.get("/openapi.json").json()


def operations(schema: dict) -> Iterator[tuple[str, str, dict]]:
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def resolved(schema: dict, node: dict) -> dict:
    return schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node


def template_of(schema: dict, path: str) -> str:
    for template in schema["paths"]:
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path.split("?")[0]):
            return template
    raise AssertionError(f"{path} is in no path of the document")


def assert_documented(schema: dict, method: str, path: str, response) -> None:
    """The answer's status is one its operation documents, and its body and headers are those documented."""
    template = template_of(schema, path)
    documented = schema["paths"][template][method]["responses"]
    assert str(response.status_code) in documented, (method, template, response.status_code, sorted(documented))
    prepared = requests.Request(method.upper(), f"http://testserver{path}").prepare()
    answer = Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.headers.items()},
        content=response.content,
        request=prepared,
        elapsed=0.0,
        verify=True,
    )
    schemathesis.openapi.from_dict(schema)[template][method.upper()].validate_response(answer)
    for header in documented[str(response.status_code)].get("headers", {}):
        assert header in response.headers, (method, template, header)


# --- What the document says of every operation -----------------------------------------------


def test_it_documents_401_wherever_credentials_are_read_and_429_wherever_api_tokens_are(schema):
    for method, path, operation in operations(schema):
        statuses = set(operation["responses"])
        if path in {"/healthz", "/_internal/health"}:
            assert not statuses & {"401", "429"}, path  # the probes read no credentials
            continue
        assert "401" in statuses, (method, path)
        if any("tokenAuth" in scheme for scheme in operation["security"]):  # not /metrics' own bearer token
            assert "429" in statuses, (method, path)
            assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_it_documents_404_where_the_path_names_an_object_and_400_where_input_can_be_wrong(schema):
    for method, path, operation in operations(schema):
        statuses = set(operation["responses"])
        if "{" in path:
            assert "404" in statuses, (method, path)
        if operation.get("parameters") or "requestBody" in operation:
            assert "400" in statuses, (method, path)


def test_it_documents_413_and_415_wherever_a_body_is_read(schema):
    for method, path, operation in operations(schema):
        if "requestBody" in operation:
            assert {"413", "415"} <= set(operation["responses"]), (method, path)


def test_it_documents_403_on_every_change_a_console_session_could_send_without_its_csrf_token(schema):
    for method, path, operation in operations(schema):
        if method not in SAFE and path not in {"/healthz", "/_internal/health"}:
            assert "403" in operation["responses"], (method, path)


def test_it_documents_403_on_what_only_staff_or_permission_holders_may_do(schema):
    assert "403" in schema["paths"]["/v1/audit-events"]["get"]["responses"]
    assert "403" in schema["paths"]["/v1/deid-policies"]["post"]["responses"]


def test_it_gives_every_refusal_a_json_body_with_its_detail(schema):
    for method, path, operation in operations(schema):
        for status, response in operation["responses"].items():
            if int(status) >= 400 and path not in {"/healthz", "/_internal/health"}:
                body = resolved(schema, response["content"]["application/json"]["schema"])
                assert "detail" in body["required"], (method, path, status)


def test_it_documents_validation_errors_and_body_limits_with_their_fields(schema):
    validation = schema["paths"]["/projects"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]
    too_large = schema["paths"]["/projects"]["post"]["responses"]["413"]["content"]["application/json"]["schema"]

    assert "errors" in resolved(schema, validation)["properties"]
    assert "limit_bytes" in resolved(schema, too_large)["properties"]


def test_it_documents_both_methods_of_sending_a_chunk_alike(schema):
    upload = schema["paths"]["/v1/uploads/{upload_id}"]

    assert upload["put"]["responses"] == upload["patch"]["responses"]
    assert {"400", "404", "409", "411", "413", "415"} <= set(upload["put"]["responses"])


def test_it_documents_json_endpoints_as_json_and_upload_endpoints_as_forms(schema):
    assert list(schema["paths"]["/projects"]["post"]["requestBody"]["content"]) == ["application/json"]
    assert list(schema["paths"]["/v1/datasets/{dataset_id}/files"]["put"]["requestBody"]["content"]) == [
        "multipart/form-data"
    ]


def test_it_links_what_makes_an_object_to_what_reads_it(schema):
    created = schema["paths"]["/projects/{project_reference}/runs"]["post"]["responses"]["201"]["links"]
    uploads = schema["paths"]["/v1/datasets/{dataset_id}/uploads"]["post"]["responses"]["201"]["links"]

    assert created["projects_runs_retrieve"]["parameters"] == {
        "path.run_id": "$response.body#/id",
        "path.project_reference": "$request.path.project_reference",
    }
    assert uploads["v1_uploads_finish_create"]["parameters"] == {"path.upload_id": "$response.body#/upload_id"}


# --- Fields that can be null, and fields that can be missing ------------------------------------


def nullable(schema: dict, node: dict) -> bool:
    return node.get("nullable", False) or any(nullable(schema, each) for each in node.get("oneOf", []))


def response_model_serializers() -> Iterator[type[serializers.ModelSerializer]]:
    pending = list(serializers.ModelSerializer.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if cls.__module__.split(".")[0] in CONTRACT_APPS:
            yield cls


def test_it_marks_nullable_every_response_field_a_nullable_model_field_fills(schema):
    """A field whose source passes through a model field that may be null (a creator since deleted,
    a job's dataset not made yet) is nullable in the document."""
    checked = []
    for cls in response_model_serializers():
        component = schema["components"]["schemas"].get(cls.__name__.removesuffix("Serializer"))
        if component is None:
            continue
        model: type[Model] = cls.Meta.model
        for name, field in cls().fields.items():
            step = field.source_attrs[0] if field.source_attrs else None
            if name not in component["properties"] or step not in {f.name for f in model._meta.get_fields()}:
                continue
            model_field = model._meta.get_field(step)
            many = model_field.one_to_many or model_field.many_to_many  # a manager, never None
            if getattr(model_field, "null", False) and not many:
                checked.append(f"{cls.__name__}.{name}")
                assert nullable(schema, component["properties"][name]), f"{cls.__name__}.{name}"
    assert {"DeidJobSerializer.target_dataset_id", "DeploymentInfoSerializer.created_by"} <= set(checked)


def test_it_does_not_require_in_a_response_what_the_platform_may_leave_out(schema):
    job = schema["components"]["schemas"]["DeidJob"]
    deidentified = schema["components"]["schemas"]["DeidResponse"]

    assert "seed" in job["properties"]
    assert "seed" not in job["required"]
    assert "mapping" not in deidentified.get("required", [])


def test_it_answers_objects_whose_creator_is_gone_as_documented(schema, owner_client, staff_client):
    dataset = owner_client.post("/v1/datasets", {"name": "left-behind", "task_type": "sft"}, format="json").json()
    created = staff_client.post(
        "/v1/deid-policies", {"id": "left-behind", "entities": {"EMAIL_ADDRESS": "mask"}}, format="json"
    )
    assert created.status_code == 201
    # What deleting their accounts leaves (the foreign keys are SET_NULL).
    Dataset.objects.filter(pk=dataset["id"]).update(created_by=None)
    DeidPolicyVersion.objects.filter(policy__name="left-behind").update(created_by=None)

    for path in ("/v1/datasets", f"/v1/datasets/{dataset['id']}", "/v1/deid-policies/left-behind/versions"):
        response = staff_client.get(path)
        assert response.status_code == 200, path
        assert_documented(schema, "get", path, response)


def test_it_answers_a_job_whose_dataset_is_not_made_yet_as_documented(schema, owner_client, training_dir):
    dataset = owner_client.post("/v1/datasets", {"name": "to-scrub", "task_type": "sft"}, format="json").json()
    records = SimpleUploadedFile("records.jsonl", jsonl(SFT_RECORD))
    uploaded = owner_client.put(f"/v1/datasets/{dataset['id']}/files", {"file": records}, format="multipart")
    assert uploaded.status_code == 201, uploaded.content
    started = owner_client.post(f"/v1/datasets/{dataset['id']}/deidentify", {}, format="json")
    assert started.status_code == 202, started.content
    DeidJob.objects.filter(pk=started.json()["id"]).update(target=None, status="queued")  # as before a worker ran it

    for path in (f"/v1/deid-jobs/{started.json()['id']}", f"/v1/datasets/{dataset['id']}/deidentify"):
        response = owner_client.get(path)
        assert response.status_code == 200, path
        assert_documented(schema, "get", path, response)


# --- Refusals, made for real -------------------------------------------------------------------


def test_it_documents_every_refusal_of_a_resumable_upload(schema, owner, owner_client):
    dataset = datasets_services.create_dataset(name="big", task_type="sft", created_by=owner)
    started = owner_client.post(
        f"/v1/datasets/{dataset.pk}/uploads", {"filename": "big.jsonl", "total_bytes": 4}, format="json"
    ).json()
    upload = f"/v1/uploads/{started['upload_id']}"

    def chunk(path: str, content: bytes, content_type: str = "application/octet-stream"):
        return "put", path, owner_client.put(path, content, content_type=content_type)

    answers = {
        "unknown upload": chunk("/v1/uploads/00000000-0000-0000-0000-000000000000?offset=0", b"ab"),
        "no offset": chunk(upload, b"ab"),
        "wrong offset": chunk(f"{upload}?offset=2", b"ab"),
        "empty chunk": chunk(f"{upload}?offset=0", b""),
        "past the end": chunk(f"{upload}?offset=0", b"abcdef"),
        "not octets": chunk(f"{upload}?offset=0", b"ab", "text/plain"),
        "finished early": ("post", f"{upload}/finish", owner_client.post(f"{upload}/finish")),
    }

    assert {name: response.status_code for name, (_, _, response) in answers.items()} == {
        "unknown upload": 404,
        "no offset": 400,
        "wrong offset": 409,
        "empty chunk": 411,
        "past the end": 413,
        "not octets": 415,
        "finished early": 409,
    }
    for method, path, response in answers.values():
        assert_documented(schema, method, path, response)


def test_it_documents_the_preview_of_a_file_still_uploading(schema, owner, owner_client):
    dataset = datasets_services.create_dataset(name="big", task_type="sft", created_by=owner)
    started = owner_client.post(
        f"/v1/datasets/{dataset.pk}/uploads", {"filename": "big.jsonl", "total_bytes": 4}, format="json"
    ).json()
    path = f"/v1/datasets/{dataset.pk}/files/{started['upload_id']}/preview"

    response = owner_client.get(path)

    assert response.status_code == 409
    assert_documented(schema, "get", path, response)


def test_it_documents_every_refusal_of_de_identification(schema, owner, owner_client, staff_client, settings):
    settings.DEID_MAX_TEXTS = 2
    empty = datasets_services.create_dataset(name="empty", task_type="sft", created_by=owner)

    def scrub(body: dict):
        return "post", "/v1/deidentify:test", owner_client.post("/v1/deidentify:test", body, format="json")

    answers = {
        "unknown policy": scrub({"text": ["x"], "policy_id": "nowhere"}),
        "too many texts": scrub({"text": ["a", "b", "c"]}),
        "mapping unpermitted": scrub({"text": ["x"], "options": {"return_mapping": True}}),
        "no text": scrub({"text": []}),
        "default policy removed": (
            "delete",
            "/v1/deid-policies/default",
            staff_client.delete("/v1/deid-policies/default"),
        ),
        "unknown policy read": ("get", "/v1/deid-policies/nowhere", owner_client.get("/v1/deid-policies/nowhere")),
        "policy made unpermitted": (
            "post",
            "/v1/deid-policies",
            owner_client.post("/v1/deid-policies", {"id": "mine"}, format="json"),
        ),
        "nothing to scrub": (
            "post",
            f"/v1/datasets/{empty.pk}/deidentify",
            owner_client.post(f"/v1/datasets/{empty.pk}/deidentify", {}, format="json"),
        ),
    }

    assert {name: response.status_code for name, (_, _, response) in answers.items()} == {
        "unknown policy": 404,
        "too many texts": 413,
        "mapping unpermitted": 403,
        "no text": 400,
        "default policy removed": 409,
        "unknown policy read": 404,
        "policy made unpermitted": 403,
        "nothing to scrub": 409,
    }
    for method, path, response in answers.values():
        assert_documented(schema, method, path, response)


def test_it_documents_the_answer_to_a_body_over_the_limit(schema, owner_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = owner_client.post("/projects", {"name": "x", "description": "y" * 2048}, format="json")

    assert response.status_code == 413
    assert_documented(schema, "post", "/projects", response)


def test_it_documents_the_answer_to_too_many_wrong_tokens(schema, anonymous_client, settings):
    settings.TOKEN_FAILURE_RATE = "2/min"
    wrong = {"HTTP_AUTHORIZATION": "Token " + "0" * 40, "REMOTE_ADDR": "203.0.113.77"}

    answers = [anonymous_client.get("/projects", **wrong) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [401, 401, 429]
    for answer in answers:
        assert_documented(schema, "get", "/projects", answer)


def test_it_documents_the_answers_to_no_credentials_and_to_a_staff_only_list(schema, anonymous_client, owner_client):
    unauthenticated = anonymous_client.get("/v1/datasets")
    not_staff = owner_client.get("/v1/audit-events")

    assert (unauthenticated.status_code, not_staff.status_code) == (401, 403)
    assert_documented(schema, "get", "/v1/datasets", unauthenticated)
    assert_documented(schema, "get", "/v1/audit-events", not_staff)
