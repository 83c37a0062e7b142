"""Every route that names an object answers an outsider 404 for someone else's object,
whatever the method: nobody can tell another user's object from one that does not exist.

Routes come from the URL resolver (tests.routes), filled with the ids of real objects
`owner` keeps to themselves, so a route added by any app is covered at once; one whose
path names an object of a new kind fails here until that kind is added below.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from datasets import services as dataset_services
from deid.models import DeidJob
from deployments.models import Deployment
from notifications.models import Subscription
from retention.models import RetentionPolicy
from tests.routes import Route, all_routes

METHODS = ["get", "post", "put", "patch", "delete"]
# Seen by everybody signed in on purpose: de-identification policies are the organisation's rules.
SHARED_PARAMETERS = {"policy_id"}
CONFIG_YAML = b"task_type: sft\nmodel_name: qwen-7b\ndataset: datasets/x.jsonl\n"


@pytest.fixture
def owners_objects(owner, owner_client, project, tmp_path, settings) -> dict[str, str]:
    """Path parameter → the id of an object of `owner` (the project has `member`, never `outsider`)."""
    run = project.runs.create(name="run-001", created_by=owner, run_dir=str(tmp_path / "run"))
    (tmp_path / "run" / "checkpoint-10").mkdir(parents=True)  # its files are listed, and downloaded, from there
    artifact = run.artifacts.create(
        name="checkpoint-10", type="checkpoint", path=str(tmp_path / "run" / "checkpoint-10")
    )
    dataset = dataset_services.create_dataset(name="private", task_type="sft", created_by=owner)
    (tmp_path / "train.jsonl").write_text('{"messages": []}\n')
    dataset_file = dataset_services.add_file_from_path(
        dataset=dataset, source_path=tmp_path / "train.jsonl", filename="train.jsonl", created_by=owner
    )
    config = owner_client.put(
        "/v1/train-config", {"file": SimpleUploadedFile("c.yaml", CONFIG_YAML)}, format="multipart"
    ).json()
    log_file = Path(settings.DEPLOY_LOG_DIR) / "d.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text("ready\n")
    deployment = Deployment.objects.create(
        created_by=owner, model_path="m", served_model_name="m", status="stopped", log_file=str(log_file)
    )
    RetentionPolicy.objects.create(project=project, keep_last=2)
    webhook = Subscription.objects.create(project=project, url="https://hooks.example.com/x", created_by=owner)
    delivery = webhook.deliveries.create(event="run.failed")
    job = DeidJob.objects.create(
        source=dataset, policy_name="default", policy_version_label="v1", target_name="copy", created_by=owner
    )
    return {
        "project_reference": project.name,
        "project_id": str(project.pk),
        "run_id": str(run.pk),
        "artifact_id": str(artifact.pk),
        "dataset_id": str(dataset.pk),
        "upload_id": str(dataset_file.pk),
        "config_id": config["id"],
        "deployment_id": str(deployment.pk),
        "job_id": str(job.pk),
        "webhook_id": str(webhook.pk),
        "delivery_id": str(delivery.pk),
    }


def object_routes(values: dict[str, str]) -> list[Route]:
    """API and console routes whose path names an object (the admin is staff's, and staff see everything)."""
    routes = [route for route in all_routes(values) if route.parameters and not route.path.startswith("/admin/")]
    unknown = {name for route in routes for name in route.parameters} - set(values) - SHARED_PARAMETERS
    assert unknown == set(), f"routes name objects of kinds this test does not make: {unknown}"
    return [route for route in routes if not SHARED_PARAMETERS & set(route.parameters)]


def client_for(route: Route, api: Client, console: Client) -> Client:
    return console if route.path.startswith("/console/") else api


def test_it_answers_outsiders_404_on_every_route_naming_an_object(
    owners_objects, owner_client, owner_session, outsider_client, outsider_session
):
    routes = object_routes(owners_objects)
    # The ids are real: their owner reads them through every route that can be read.
    owners_reads = {route.pattern: client_for(route, owner_client, owner_session).get(route.path) for route in routes}
    assert 404 not in {response.status_code for response in owners_reads.values()}
    assert [response.status_code for response in owners_reads.values()].count(200) > 20

    not_hidden = {}
    for route in routes:
        client = client_for(route, outsider_client, outsider_session)
        statuses = {method: getattr(client, method)(route.path).status_code for method in METHODS}
        # 405: the route takes no such method, refused before any object is looked up.
        if set(statuses.values()) - {404, 405} or 404 not in statuses.values():
            not_hidden[route.pattern] = statuses
    assert not_hidden == {}
