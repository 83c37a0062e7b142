"""A real Prometheus (Debian's `prometheus` package; scripts/test installs it) scrapes /metrics with the token."""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request

import pytest
from django.utils import timezone

from gpus.models import GpuClaim
from llmplatform.testing import free_port, running, wait_for
from runs.models import Run

pytestmark = pytest.mark.slow
TOKEN = "prometheus-scrape-token"


def query(port: int, expression: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)["data"]["result"]
    except OSError:
        return []


def test_prometheus_scrapes_every_metric_with_its_labels(live_server, settings, project, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("no prometheus binary (Debian's prometheus package); the parser tests still run")
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.GPU_IDS = "0:NVIDIA L4,1:NVIDIA L4"
    run = Run.objects.create(project=project, name="training", status="running", started_at=timezone.now())
    Run.objects.create(project=project, name="waiting")
    GpuClaim.objects.create(gpu_index=0, holder_kind="run", holder_id=str(run.pk), holder_label="training")
    (tmp_path / "token").write_text(TOKEN)
    target = live_server.url.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: llmplatform\n"
        f"    authorization: {{type: Bearer, credentials_file: {tmp_path / 'token'}}}\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = free_port()
    argv = [
        binary,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(argv, env={}, log=tmp_path / "prometheus.log"):
        # A scrape that overran its 1 s on a busy machine records up 0; the next one counts.
        scraped = wait_for(
            lambda: [sample for sample in query(port, "up") if sample["value"][1] == "1"],
            timeout=60,
            what=f"Prometheus to scrape the platform; its log: {tmp_path / 'prometheus.log'}",
        )
        assert scraped[0]["metric"]["job"] == "llmplatform"
        runs = wait_for(lambda: query(port, 'llmp_runs{status="running"}'), timeout=30, what="llmp_runs")
        gpu = query(port, 'llmp_gpu_info{gpu="0"}')
        requests = wait_for(
            lambda: query(port, 'llmp_http_request_duration_seconds_count{route="/metrics",method="GET"}'),
            timeout=30,
            what="the request histogram",
        )
        families = {item["metric"]["__name__"] for item in query(port, '{__name__=~"llmp_.+"}')}

    assert runs[0]["metric"]["project"] == "qwen-finetune" and runs[0]["value"][1] == "1"
    assert gpu[0]["metric"] | {"holder_kind": "run", "holder": "training", "name": "NVIDIA L4"} == gpu[0]["metric"]
    assert requests[0]["metric"]["status"] == "2xx"
    expected = {
        "llmp_runs",
        "llmp_run_queue_depth",
        "llmp_run_start_latency_seconds_count",
        "llmp_gpu_info",
        "llmp_gpus_held",
        "llmp_disk_free_bytes",
        "llmp_task_queue_size",
        "llmp_worker_clusters",
        "llmp_metrics_scrape_error",
        "llmp_http_request_duration_seconds_bucket",
    }
    assert expected <= families, expected - families
