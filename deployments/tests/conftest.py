"""Deployments tests drive the stand-in vLLM server (fixtures/fake_vllm.py) through the
real VLLM_COMMAND template, on fake GPUs named by GPU_IDS. Every server a test starts
is stopped (its whole process group killed) when the test ends."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from deployments.models import Deployment
from deployments.supervisor import DeploymentSupervisor
from llmplatform import processes

FAKE_VLLM = Path(__file__).parent / "fixtures" / "fake_vllm.py"
MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"
FAKE_VLLM_COMMAND = (
    f"{sys.executable} {FAKE_VLLM} serve {{model_path}} --host 127.0.0.1 --port {{port}} --served-model-name {{name}}"
)


def wait_for(
    condition: Callable[[], object], *, timeout: float = 15.0, interval: float = 0.05, what: str = ""
) -> object:
    """Poll `condition` until it is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)


def supervise_until(deployment_id, status: str, *, timeout: float = 15.0) -> Deployment:
    """Run supervisor ticks (the real loop body) until the deployment reaches `status`."""
    supervisor = DeploymentSupervisor()

    def reached() -> Deployment | None:
        supervisor.acquire_lease()
        supervisor.tick()
        deployment = Deployment.objects.get(pk=deployment_id)
        return deployment if deployment.status == status else None

    try:
        return wait_for(reached, timeout=timeout, what=f"deployment {deployment_id} to be {status}")
    finally:
        supervisor.release_lease()


@pytest.fixture
def port_range_base() -> int:
    return random.randrange(20000, 29000, 50)


@pytest.fixture
def fake_vllm(settings, port_range_base):
    """Deployments start the stand-in server on GPUs 0 and 1; servers are cleaned up after the test."""
    settings.VLLM_COMMAND = FAKE_VLLM_COMMAND
    settings.GPU_IDS = "0,1"
    settings.DEPLOY_PORT_RANGE = f"{port_range_base}-{port_range_base + 49}"
    settings.DEPLOY_PROBE_INTERVAL_SECONDS = 0.1
    settings.DEPLOY_PROBE_TIMEOUT_SECONDS = 1.0
    settings.DEPLOY_STOP_GRACE_SECONDS = 3.0
    settings.DEPLOY_UNHEALTHY_AFTER_FAILED_PROBES = 3
    yield settings
    for deployment in Deployment.objects.exclude(pid=None):
        if processes.group_members(deployment.pid):
            processes.terminate_group(deployment.pid, grace=0.5, force=True)


@pytest.fixture
def tiny_model(settings) -> str:
    """A model folder under MODELS_DIR; returns its relative path."""
    folder = Path(settings.MODELS_DIR) / "models" / "tiny-llama"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "llama"}')
    return "models/tiny-llama"


def database_url() -> str:
    """The test database, as a URL a `manage.py` subprocess can use."""
    from django.db import connection

    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"postgres://{config['USER']}@{config['HOST'] or '127.0.0.1'}{port}/{config['NAME']}"


@pytest.fixture
def manage_py(fake_vllm, settings):
    """Start `manage.py ARGS` as a separate process on the test database, with this test's settings."""
    started: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": database_url(),
        "DATA_DIR": str(settings.DATA_DIR),
        "MODELS_DIR": str(settings.MODELS_DIR),
        "DEPLOY_LOG_DIR": str(settings.DEPLOY_LOG_DIR),
        "LLMP_HOSTNAME": settings.HOSTNAME,
        "GPU_IDS": settings.GPU_IDS,
        "VLLM_COMMAND": settings.VLLM_COMMAND,
        "DEPLOY_PORT_RANGE": settings.DEPLOY_PORT_RANGE,
        "DEPLOY_PROBE_INTERVAL_SECONDS": str(settings.DEPLOY_PROBE_INTERVAL_SECONDS),
        "DEPLOY_SUPERVISOR_LEASE_SECONDS": "2",
        "DEPLOY_SUPERVISOR_TASK_SECONDS": "4",
        "Q_WORKERS": "1",
    }

    def start(*args: str, log_name: str = "manage") -> subprocess.Popen:
        log = open(Path(settings.DATA_DIR) / f"{log_name}.log", "ab")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            [sys.executable, str(MANAGE_PY), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
