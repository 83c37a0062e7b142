"""Deployments tests drive the stand-in vLLM server (fixtures/fake_vllm.py) through the
real VLLM_COMMAND template, on fake GPUs named by GPU_IDS. Every server a test starts
is stopped (its whole process group killed) when the test ends."""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
from pathlib import Path

import pytest

from deployments.models import Deployment
from deployments.supervisor import DeploymentSupervisor
from llmplatform import processes
from llmplatform.processes import ProcessIdentity
from llmplatform.testing import manage_py, running, subprocess_env, wait_for

FAKE_VLLM = Path(__file__).parent / "fixtures" / "fake_vllm.py"
FAKE_VLLM_COMMAND = (
    f"{sys.executable} {FAKE_VLLM} serve {{model_path}} --host 127.0.0.1 --port {{port}} --served-model-name {{name}}"
)


def fake_behaviour(settings, options: str) -> None:
    """Make the stand-in server behave so (`--fake-load-seconds 1.5`, `--fake-ignore-sigterm`...).

    Its behaviour options go into the command template, which operators own: they are
    no vLLM options, so the allowlist of `extra_args` would refuse them.
    """
    settings.VLLM_COMMAND = f"{FAKE_VLLM_COMMAND} {options}"


def supervise_until(deployment_id, status: str, *, timeout: float = 15.0) -> Deployment:
    """Run supervisor ticks (the real loop body) until the deployment reaches `status`."""
    supervisor = DeploymentSupervisor()

    def reached() -> Deployment | None:
        supervisor.tick()
        deployment = Deployment.objects.get(pk=deployment_id)
        return deployment if deployment.status == status else None

    return wait_for(reached, timeout=timeout, interval=0.05, what=f"deployment {deployment_id} to be {status}")


def server_of(deployment: Deployment) -> ProcessIdentity:
    """The server process of a deployment the test started."""
    identity = deployment.process
    assert identity is not None, f"deployment {deployment.pk} has no server process"
    return identity


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
    for pgid in Deployment.objects.values_list("pid", flat=True):
        if pgid is not None and processes.group_members(pgid):
            processes.terminate_group(pgid, grace=0.5, force=True)


@pytest.fixture
def tiny_model(settings) -> str:
    """A model folder under MODELS_DIR, with its chat template; returns its relative path."""
    folder = Path(settings.MODELS_DIR) / "models" / "tiny-llama"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "chat_template.jinja").write_text("{% for message in messages %}{{ message.content }}{% endfor %}")
    return "models/tiny-llama"


@pytest.fixture
def platform_process(fake_vllm, settings):
    """Start `manage.py ARGS` in its own session on the test database, with this test's deployment settings.

    Stopped (its whole process group) when the test ends; its output goes to `<DATA_DIR>/<log_name>.log`.
    """
    env = subprocess_env(
        LLMP_HOSTNAME=settings.HOSTNAME,
        GPU_IDS=settings.GPU_IDS,
        VLLM_COMMAND=settings.VLLM_COMMAND,
        DEPLOY_PORT_RANGE=settings.DEPLOY_PORT_RANGE,
        DEPLOY_PROBE_INTERVAL_SECONDS=str(settings.DEPLOY_PROBE_INTERVAL_SECONDS),
        SUPERVISOR_TASK_SECONDS="4",  # a loop's slice: qcluster waits for it when told to stop
        Q_WORKERS="2",
    )
    with contextlib.ExitStack() as stack:

        def start(*args: str, log_name: str = "manage") -> subprocess.Popen:
            log = Path(settings.DATA_DIR) / f"{log_name}.log"
            return stack.enter_context(running(manage_py(*args), env=env, log=log))

        yield start
