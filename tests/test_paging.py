"""Every list in /openapi.json is paged, and pages the way its schema says.

A list operation is a GET whose answer is a JSON array, or an object holding an
`items` array. Each must declare one of the two pagings of llmplatform.api, and
answers accordingly with at least two things to list in it:

- `limit`/`offset` (every list the contract leaves open): `limit` caps the body,
  `X-Total-Count` counts all pages, `Link` points at the next one, and out-of-range
  values are a 400 naming the parameter;
- `page`/`page_size` (logs, as the contract pages a run's log): `page_size` caps
  `items`, `total` counts all pages, and out-of-range values are a 400 too.

A new list that declares neither fails here as soon as it is in the schema, and
tests/test_openapi.py makes sure every route is.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from audit.models import AuditEvent
from datasets import services as dataset_services
from datasets.models import Dataset, TrainConfig
from deid.models import DeidJob
from deployments.models import Deployment
from llmplatform.api import DEFAULT_LIMIT, MAX_LIMIT
from notifications.models import Subscription
from projects.services import create_project
from runs.models import Artifact, LogLine, Run

TOO_DEEP = 2**63 - 1  # the largest 64-bit integer: past any offset a database can hold
# Lists paged by a cursor of their own instead: not a list of things but a window
# into one file, whose next `offset` the body gives (counting a file of up to 1 TiB
# for X-Total-Count would mean reading it whole).
WINDOWS = {"/v1/datasets/{dataset_id}/files/{upload_id}/preview"}


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def is_list(schema: dict, operation: dict) -> bool:
    content = operation["responses"].get("200", {}).get("content", {}).get("application/json")
    if content is None:
        return False
    body = resolve(schema, content["schema"])
    items = body.get("properties", {}).get("items")
    return body.get("type") == "array" or (items is not None and resolve(schema, items).get("type") == "array")


def list_operations(schema: dict) -> dict[str, dict]:
    return {
        path: operations["get"]
        for path, operations in schema["paths"].items()
        if "get" in operations and is_list(schema, operations["get"]) and path not in WINDOWS
    }


def paging_of(operation: dict) -> str | None:
    """ "limit" or "page", after the parameters the operation declares; None for an unpaged list."""
    query = {parameter["name"] for parameter in operation.get("parameters", []) if parameter["in"] == "query"}
    if {"limit", "offset"} <= query:
        return "limit"
    if {"page", "page_size"} <= query:
        return "page"
    return None


@pytest.fixture
def schema(client, db) -> dict:
    return client.get("/openapi.json").json()


@pytest.fixture
def two_of_everything(owner, member, staff, staff_client) -> dict[str, str]:
    """At least two items in every list, and the path parameters that reach them."""
    create_project(actor=owner, fields={"name": "other"})
    project = create_project(actor=owner, fields={"name": "qwen-finetune"}, members=[member])
    run = Run.objects.create(project=project, name="run-001", next_log_seq=3)
    Run.objects.create(project=project, name="run-002")
    now = timezone.now()
    for seq in (1, 2):
        LogLine.objects.create(run=run, seq=seq, timestamp=now + timedelta(seconds=seq), level="INFO", message="step")
        Artifact.objects.create(run=run, name=f"checkpoint-{seq}", type="checkpoint", path=f"/out/checkpoint-{seq}")

    log_file = Path(settings.DEPLOY_LOG_DIR) / "server.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text("loading\nready\n")
    deployment = Deployment.objects.create(model_path="models/a", served_model_name="a", log_file=str(log_file))
    Deployment.objects.create(model_path="models/b", served_model_name="b", status="stopped")

    dataset = dataset_services.create_dataset(name="chats", task_type="pretrain", created_by=owner)
    dataset_services.create_dataset(name="more chats", task_type="pretrain", created_by=owner)
    for name in ("train.txt", "eval.txt"):
        source = Path(settings.DATA_DIR) / name
        source.write_text("some text\n")
        upload = dataset_services.add_file_from_path(
            dataset=dataset, source_path=source, filename=name, created_by=owner
        )
    for tokenizer in ("a", "b"):
        upload.token_lengths.create(model=f"models/{tokenizer}", tokenizer_path="-", tokenizer_sha256=tokenizer * 64)
    for name in ("a.yaml", "b.yaml"):
        TrainConfig.objects.create(
            filename=name,
            stored_name=name,
            relative_path=f"configs/{name}",
            size=4,
            sha256="0" * 64,
            content="a: 1",
            task_type="sft",
        )
    for target_name in ("chats-scrubbed", "chats-scrubbed-2"):
        DeidJob.objects.create(source=dataset, policy_name="default", target_name=target_name)

    webhook = Subscription.objects.create(project=project, url="https://hooks.example.com/a")
    Subscription.objects.create(project=project, url="https://hooks.example.com/b")
    for event in ("run.failed", "run.completed"):
        webhook.deliveries.create(event=event)

    created = staff_client.post("/v1/deid-policies", {"id": "strict", "entities": {"URL": "mask"}}, format="json")
    assert created.status_code == 201, created.json()
    staff_client.patch("/v1/deid-policies/strict", {"entities": {"URL": "redact"}}, format="json")

    return {
        "project_reference": project.name,
        "run_id": str(run.pk),
        "webhook_id": str(webhook.pk),
        "deployment_id": str(deployment.pk),
        "dataset_id": str(dataset.pk),
        "upload_id": str(upload.pk),
        "policy_id": "strict",
    }


def fill(path: str, parameters: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda match: parameters[match[1]], path)


def items_of(body):
    return body if isinstance(body, list) else body["items"]


def check_limit_offset(client, path: str, operation: dict) -> None:
    declared = {parameter["name"]: parameter["schema"] for parameter in operation["parameters"]}
    assert (declared["limit"]["maximum"], declared["limit"]["default"]) == (MAX_LIMIT, DEFAULT_LIMIT), path
    assert {"X-Total-Count", "Link"} <= set(operation["responses"]["200"].get("headers", {})), path

    everything = client.get(path)
    assert everything.status_code == 200, (path, everything.content)
    total = int(everything["X-Total-Count"])
    assert total >= 2 and len(items_of(everything.json())) == total, path

    first, second = client.get(path, {"limit": 1}), client.get(path, {"limit": 1, "offset": 1})
    assert [len(items_of(first.json())), len(items_of(second.json()))] == [1, 1], path
    assert items_of(first.json()) != items_of(second.json()), path
    assert first["X-Total-Count"] == str(total), path
    assert re.search(r'<[^>]*offset=1[^>]*>; rel="next"', first["Link"]), (path, first["Link"])

    for name, value in (("limit", 0), ("limit", MAX_LIMIT + 1), ("offset", -1), ("offset", TOO_DEEP)):
        refused = client.get(path, {name: value})
        assert refused.status_code == 400, (path, name, value, refused.content)
        assert refused.json()["detail"].startswith(f"{name}: "), (path, refused.json())


def check_page(client, path: str) -> None:
    page = client.get(path, {"page_size": 1})
    assert page.status_code == 200, (path, page.content)
    assert len(page.json()["items"]) == 1 and page.json()["total"] >= 2, (path, page.json())

    for name, value in (("page", 0), ("page", TOO_DEEP), ("page_size", MAX_LIMIT + 1)):
        refused = client.get(path, {name: value})
        assert refused.status_code == 400, (path, name, value, refused.content)
        assert name in refused.json()["detail"], (path, refused.json())


def test_it_pages_every_list_in_the_schema(schema, staff_client, two_of_everything):
    lists = list_operations(schema)
    assert {"/projects", "/v1/datasets", "/projects/{project_reference}/runs/{run_id}/logs"} <= set(lists)

    unpaged = [path for path, operation in lists.items() if paging_of(operation) is None]
    assert unpaged == []
    for path, operation in lists.items():
        concrete = fill(path, two_of_everything)
        if paging_of(operation) == "limit":
            check_limit_offset(staff_client, concrete, operation)
        else:
            check_page(staff_client, concrete)


def test_it_would_notice_an_unpaged_list(schema):
    operation = {"parameters": [{"name": "q", "in": "query"}], "responses": {"200": {}}}
    assert paging_of(operation) is None
    assert paging_of(schema["paths"]["/v1/train-configs"]["get"]) == "limit"


def test_it_stops_a_list_at_100_unless_asked_for_more(staff_client):
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(actor_name="alice", action="create", object_type="x.y", object_id=str(index), created_at=now)
        for index in range(DEFAULT_LIMIT + 1)
    )

    default = staff_client.get("/v1/audit-events")
    widest = staff_client.get("/v1/audit-events", {"limit": MAX_LIMIT})

    assert (len(default.json()), default["X-Total-Count"]) == (DEFAULT_LIMIT, str(DEFAULT_LIMIT + 1))
    assert 'rel="next"' in default["Link"]
    assert len(widest.json()) == DEFAULT_LIMIT + 1 and 'rel="next"' not in widest["Link"]


def test_it_keeps_the_filters_in_the_next_link(owner, owner_client):
    for name in ("a", "b", "c"):
        Dataset.objects.create(name=f"chats {name}", task_type="sft", created_by=owner)
    Dataset.objects.create(name="other", task_type="pretrain", created_by=owner)

    first = owner_client.get("/v1/datasets", {"task_type": "sft", "limit": 2})

    assert first["X-Total-Count"] == "3"
    [next_page] = re.findall(r'<([^>]+)>; rel="next"', first["Link"])
    assert "task_type=sft" in next_page and "limit=2" in next_page and "offset=2" in next_page
    rest = owner_client.get(next_page)
    assert [dataset["name"] for dataset in rest.json()] == ["chats a"]


def test_it_lists_nothing_past_the_end(staff_client, two_of_everything):
    response = staff_client.get("/v1/datasets", {"offset": 50})

    assert response.status_code == 200 and response.json() == []
    assert response["X-Total-Count"] == "2"
    assert 'rel="prev"' in response["Link"] and 'rel="next"' not in response["Link"]
