"""`manage.py supervise deployments` as its own process: SIGTERM, and surviving restarts.

The platform's processes (web server, supervisor) can be killed with SIGKILL at any
moment; model servers run in their own sessions and outlive them, and the next
supervisor re-attaches to them by pid and process start time.
"""

from __future__ import annotations

import os
import signal

import pytest
from django.utils import timezone

from deployments.models import Deployment
from deployments.services import create_deployment
from deployments.tests.conftest import fake_behaviour, server_of, supervise_until
from gpus.models import GpuClaim
from llmplatform import processes
from llmplatform.models import SupervisorLease
from llmplatform.testing import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def status_of(deployment: Deployment) -> str:
    return Deployment.objects.get(pk=deployment.pk).status


def test_it_probes_until_sigterm_then_exits_cleanly(owner, platform_process, tiny_model, settings):
    fake_behaviour(settings, "--fake-load-seconds 0.5")
    deployment = create_deployment(actor=owner, model_path=tiny_model)
    supervisor = platform_process("supervise", "deployments")

    wait_for(lambda: status_of(deployment) == "running", timeout=30, what="the supervisor to see it running")
    supervisor.send_signal(signal.SIGTERM)

    assert supervisor.wait(timeout=15) == 0
    assert SupervisorLease.objects.get().lease_owner == ""  # handed back
    assert processes.is_running(server_of(Deployment.objects.get(pk=deployment.pk)))  # servers outlive supervisors


def test_it_reattaches_after_a_kill_9_and_fails_servers_that_died_meanwhile(owner, platform_process, tiny_model):
    survivor = create_deployment(actor=owner, model_path=tiny_model)
    casualty = create_deployment(actor=owner, model_path=tiny_model)
    first = platform_process("supervise", "deployments", log_name="first")
    wait_for(lambda: {status_of(survivor), status_of(casualty)} == {"running"}, timeout=30, what="both running")

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    os.killpg(server_of(casualty).pid, signal.SIGKILL)  # dies while nobody supervises
    assert processes.is_running(server_of(survivor))

    restarted_at = timezone.now()
    platform_process("supervise", "deployments", log_name="second")  # takes the dead one's lease at once

    wait_for(lambda: status_of(casualty) == "failed", timeout=30, what="the dead server marked failed")
    wait_for(
        lambda: Deployment.objects.filter(pk=survivor.pk, last_probe_at__gt=restarted_at).exists(),
        timeout=30,
        what="probes of the surviving server to resume",
    )
    assert status_of(survivor) == "running"
    assert list(GpuClaim.objects.values_list("holder_id", flat=True)) == [str(survivor.pk)]


def test_it_keeps_servers_running_when_the_process_that_started_them_is_killed(owner, platform_process, tiny_model):
    web = platform_process(
        "shell",
        "-c",
        "import time; from django.contrib.auth.models import User; from deployments.services import create_deployment; "
        f"create_deployment(actor=User.objects.get(pk={owner.pk}), model_path={tiny_model!r}); time.sleep(600)",
        log_name="web",
    )
    deployment = wait_for(lambda: Deployment.objects.exclude(pid=None).first(), timeout=30, what="the deployment")

    web.send_signal(signal.SIGKILL)
    web.wait(timeout=10)

    assert processes.is_running(server_of(deployment))
    supervise_until(deployment.pk, "running")
