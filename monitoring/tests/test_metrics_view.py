"""`GET /metrics`: who may scrape it, and that every metric is there with its labels,
read back with prometheus_client's own parser of the text format."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_task
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from datasets import services as dataset_services
from deployments.models import Deployment
from gpus.models import GpuClaim, HolderKind
from llmplatform import queues
from notifications.models import Subscription
from runs.models import Run

TOKEN = "scrape-token-of-the-test"
RECORD = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'


@pytest.fixture
def scrape_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.GPU_IDS = "0:NVIDIA A100-SXM4-80GB,1:NVIDIA A100-SXM4-80GB,2:NVIDIA L4"
    return settings


def scrape(client) -> dict[str, list[Sample]]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def only(samples: dict[str, list[Sample]], metric: str, **labels: str) -> float:
    matching = [sample for sample in samples.get(metric, []) if labels.items() <= sample.labels.items()]
    assert len(matching) == 1, (metric, labels, samples.get(metric))
    return matching[0].value


def test_it_refuses_scrapers_without_the_token_or_an_allowed_address(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": f"Token {TOKEN}"}):
        response = client.get("/metrics", **headers)
        assert response.status_code == 401
        assert "METRICS_TOKEN" in response.json()["detail"]
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_it_lets_allowed_networks_in_without_a_token(client, db, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.1.0.0/16", "::1"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 401
    # No token configured: an empty bearer token is no key to anything.
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_it_is_closed_when_nothing_is_configured(client, db, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 401


def test_it_reports_every_metric_with_its_labels(client, scrape_settings, project, owner, owner_client, tmp_path):
    now = timezone.now()
    queued = Run.objects.create(project=project, name="waiting", status="queued")
    Run.objects.filter(pk=queued.pk).update(created_at=now - timedelta(seconds=90))
    run_dir = tmp_path / "running-run"
    run_dir.mkdir()
    (run_dir / "train.log").write_bytes(b"x" * 300)
    running = Run.objects.create(
        project=project, name="training", status="running", run_dir=str(run_dir), log_offset=100, started_at=now
    )
    Run.objects.filter(pk=running.pk).update(created_at=now - timedelta(seconds=3), updated_at=now - timedelta(hours=1))
    Run.objects.create(project=project, name="done", status="completed", started_at=now)
    running.artifacts.create(name="checkpoint-10", type="checkpoint", path=str(run_dir / "c10"), size_bytes=4096)
    GpuClaim.objects.create(gpu_index=1, holder_kind=HolderKind.RUN, holder_id=str(running.pk), holder_label="training")
    Deployment.objects.create(
        created_by=owner,
        model_path="m",
        served_model_name="qwen-chat",
        status="unhealthy",
        host="gpu-1",
        gpu_id=2,
        port=8200,
        health_ok=False,
        failed_probes=3,
        last_probe_at=now,
        last_probe_seconds=0.25,
    )
    dataset = dataset_services.create_dataset(name="d", task_type="sft", created_by=owner)
    (tmp_path / "train.jsonl").write_text(RECORD * 4)
    dataset_services.add_file_from_path(
        dataset=dataset, source_path=tmp_path / "train.jsonl", filename="train.jsonl", created_by=owner
    )
    webhook = Subscription.objects.create(project=project, url="https://hooks.example.com/x")
    webhook.deliveries.create(event="run.failed", status="failed")
    owner_client.get(f"/projects/{project.name}/runs/{running.pk}")

    samples = scrape(client)

    assert only(samples, "llmp_runs", status="queued", project="qwen-finetune") == 1
    assert only(samples, "llmp_runs", status="running", project="qwen-finetune") == 1
    assert only(samples, "llmp_run_queue_depth", executor="local") == 1
    assert only(samples, "llmp_run_queue_oldest_wait_seconds", executor="local") >= 90
    assert only(samples, "llmp_run_start_latency_seconds_count", executor="local") == 2
    assert only(samples, "llmp_run_start_latency_seconds_bucket", executor="local", le="1.0") == 1
    assert only(samples, "llmp_run_start_latency_seconds_bucket", executor="local", le="5.0") == 2
    assert only(samples, "llmp_run_ingest_lag_bytes", run=str(running.pk), project="qwen-finetune") == 200
    assert only(samples, "llmp_run_ingest_lag_seconds", run=str(running.pk)) >= 3600
    assert only(samples, "llmp_gpu_info", gpu="1", holder_kind="run", holder_id=str(running.pk)) == 1
    assert only(samples, "llmp_gpu_info", gpu="0", name="NVIDIA A100-SXM4-80GB", holder_kind="") == 1
    assert only(samples, "llmp_gpus_held", holder_kind="run") == 1
    assert only(samples, "llmp_gpu_nvml_available") == 0
    deployment = {"model": "qwen-chat", "host": "gpu-1", "gpu": "2"}
    assert only(samples, "llmp_deployment_healthy", status="unhealthy", **deployment) == 0
    assert only(samples, "llmp_deployment_failed_probes", **deployment) == 3
    assert only(samples, "llmp_deployment_probe_seconds", **deployment) == 0.25
    assert only(samples, "llmp_deployments", status="unhealthy") == 1
    assert only(samples, "llmp_dataset_files", status="ready") == 1
    assert only(samples, "llmp_dataset_received_bytes_total") == len(RECORD) * 4
    assert only(samples, "llmp_dataset_validated_records_total") == 4
    assert only(samples, "llmp_project_artifact_bytes", project="qwen-finetune", type="checkpoint") == 4096
    assert only(samples, "llmp_disk_free_bytes", path="RUNS_DIR") > 0
    assert only(samples, "llmp_task_queue_size") >= 0
    assert only(samples, "llmp_worker_clusters") == 0
    route = "/projects/<project_reference>/runs/<run_id>"
    assert only(samples, "llmp_http_request_duration_seconds_count", route=route, method="GET", status="2xx") >= 1
    assert only(samples, "llmp_webhook_deliveries", status="failed") == 1
    assert {sample.value for sample in samples["llmp_metrics_scrape_error"]} == {0}


def test_it_counts_the_tasks_waiting_in_the_shared_queue_and_in_every_hosts_own(client, db, scrape_settings):
    for queue in [Conf.PREFIX, queues.host_queue("gpu-a"), queues.host_queue("gpu-b")]:
        async_task("math.floor", 2.5, cluster=queue, sync=False)

    assert only(scrape(client), "llmp_task_queue_size") == 3


def test_it_labels_requests_by_route_pattern_never_by_raw_path(client, scrape_settings, owner_client):
    for number in range(3):
        owner_client.get(f"/no/such/path/{number}")
    samples = scrape(client)
    routes = {sample.labels["route"] for sample in samples["llmp_http_request_duration_seconds_count"]}
    assert "<unmatched>" in routes
    assert not any(route.startswith("/no/such") for route in routes)


def test_it_reads_a_fixed_number_of_queries_however_many_runs(
    client, scrape_settings, project, django_assert_max_num_queries
):
    Run.objects.create(project=project, status="running", run_dir="/nonexistent")
    with django_assert_max_num_queries(12) as few:
        scrape(client)
    Run.objects.bulk_create(Run(project=project, status="running", run_dir="/nonexistent") for _ in range(50))
    with django_assert_max_num_queries(len(few.captured_queries)):
        scrape(client)


def test_the_grafana_dashboard_uses_only_metrics_the_platform_exposes(client, db, scrape_settings, settings):
    dashboard = json.loads((Path(settings.BASE_DIR) / "deploy/grafana/llmplatform-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for expr in expressions
        for name in re.findall(r"llmp_\w+", expr)
    }
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    exposed = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert used and used <= exposed, used - exposed
