"""Behind gunicorn, /metrics counts the requests of every worker, not only those of the one that answers."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from llmplatform.testing import free_port, running, subprocess_env, wait_for

TOKEN = "gunicorn-scrape-token"


def get(url: str, token: str = "") -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""


def test_it_adds_up_every_workers_requests(transactional_db, tmp_path):
    root = Path(settings.BASE_DIR)
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--chdir", str(root), "--config", str(root / "gunicorn.conf.py")]
    argv += ["llmplatform.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "1"]
    env = subprocess_env(METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"))
    base = f"http://127.0.0.1:{port}"
    with running(argv, env=env, log=tmp_path / "gunicorn.log"):
        # Waited for on another route: a slow first answer retried here must not count twice below.
        wait_for(lambda: get(f"{base}/metrics", TOKEN)[0] == 200, timeout=60, what="gunicorn to answer")
        answers = [get(f"{base}/healthz")[0] for _ in range(20)]
        status, text = get(f"{base}/metrics", TOKEN)

    assert all(answer in (200, 503) for answer in answers), answers
    assert status == 200
    counts = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "llmp_http_request_duration_seconds_count" and sample.labels["route"] == "/healthz"
    ]
    assert sum(counts) == 20
    assert (tmp_path / "prometheus").is_dir()
