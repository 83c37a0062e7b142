"""services.supervise, the supervisor's step: health states, exits, leftovers, stale stops."""

from __future__ import annotations

import json
import os
import re
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from deployments.models import Deployment
from deployments.services import create_deployment, supervise
from deployments.supervisor import DeploymentSupervisor
from deployments.tests.conftest import fake_behaviour, server_of, supervise_until
from gpus.models import GpuClaim
from llmplatform import processes
from llmplatform.testing import wait_for
from notifications.services import create_subscription
from notifications.tests.receiver import receiver

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def deploy(owner, tiny_model) -> Deployment:
    return create_deployment(actor=owner, model_path=tiny_model)


def test_it_reports_starting_while_the_port_refuses_then_running(owner, fake_vllm, tiny_model):
    fake_behaviour(fake_vllm, "--fake-load-seconds 1.5")
    deployment = deploy(owner, tiny_model)

    supervise(deployment)

    deployment.refresh_from_db()
    assert deployment.status == "starting" and not deployment.health_ok
    assert "refuses connections" in deployment.status_detail
    assert deployment.last_probe_at is not None
    running = supervise_until(deployment.pk, "running")
    assert running.ready_at is not None and running.started_at is not None
    assert running.health_ok and running.ready_at >= running.started_at and running.status_detail == ""


def test_it_stays_starting_until_v1_models_lists_the_served_name(owner, fake_vllm, tiny_model, settings):
    settings.VLLM_COMMAND = settings.VLLM_COMMAND.replace("{name}", "some-other-name")
    deployment = deploy(owner, tiny_model)

    wait_for(
        lambda: "does not list" in Deployment.objects.get(pk=deployment.pk).status_detail,
        between=lambda: supervise(deployment),
        timeout=15,
        what="a probe that reached /v1/models",
    )
    assert Deployment.objects.get(pk=deployment.pk).status == "starting"


def test_it_marks_a_server_unhealthy_after_failed_probes(owner, fake_vllm, tiny_model):
    fake_behaviour(fake_vllm, "--fake-unhealthy-after 1.5")
    deployment = deploy(owner, tiny_model)
    supervise_until(deployment.pk, "running")

    unhealthy = supervise_until(deployment.pk, "unhealthy")

    assert not unhealthy.health_ok
    assert unhealthy.failed_probes == 3
    assert "/health answered 503" in unhealthy.status_detail
    assert GpuClaim.objects.filter(holder_id=str(deployment.pk)).exists()  # still holds its GPU


def test_it_marks_a_server_running_again_when_it_recovers(owner, fake_vllm, tiny_model):
    fake_behaviour(fake_vllm, "--fake-unhealthy-after 1.5 --fake-unhealthy-for 2")
    deployment = deploy(owner, tiny_model)
    first_ready_at = supervise_until(deployment.pk, "running").ready_at
    supervise_until(deployment.pk, "unhealthy")

    recovered = supervise_until(deployment.pk, "running")

    assert recovered.health_ok and recovered.failed_probes == 0 and recovered.status_detail == ""
    assert recovered.ready_at == first_ready_at  # when it first became ready


def test_it_marks_a_server_unhealthy_when_loading_takes_too_long(owner, fake_vllm, tiny_model, settings):
    settings.DEPLOY_STARTUP_TIMEOUT_SECONDS = 0.3
    fake_behaviour(fake_vllm, "--fake-load-seconds 60")
    deployment = deploy(owner, tiny_model)

    unhealthy = supervise_until(deployment.pk, "unhealthy")

    assert "Not ready after 0.3 s" in unhealthy.status_detail


def test_it_marks_a_crashed_server_failed_keeping_its_last_log_lines(owner, fake_vllm, tiny_model):
    fake_behaviour(fake_vllm, "--fake-crash-after 0.3")
    deployment = deploy(owner, tiny_model)

    failed = supervise_until(deployment.pk, "failed")

    assert failed.exit_code == 3
    assert "engine core died unexpectedly" in failed.last_log_lines
    assert failed.stopped_at is not None and not failed.health_ok
    assert not GpuClaim.objects.exists()
    assert AuditEvent.objects.filter(object_id=str(deployment.pk), verb="fail").exists()


def test_it_kills_the_children_a_killed_server_leaves_behind(owner, fake_vllm, tiny_model):
    deployment = deploy(owner, tiny_model)
    pgid = server_of(deployment).pid
    wait_for(lambda: len(processes.group_members(pgid)) >= 3, timeout=15, what="server and engine child")
    started = re.search(r"\] pid=(\d+)", Path(deployment.log_file).read_text())
    assert started is not None, "the server logs its pid"
    server_pid = int(started.group(1))
    children = [pid for pid in processes.group_members(pgid) if pid not in {pgid, server_pid}]

    os.kill(server_pid, signal.SIGKILL)

    failed = supervise_until(deployment.pk, "failed")
    assert failed.exit_code == 128 + signal.SIGKILL
    assert children and processes.group_members(pgid) == []
    assert not GpuClaim.objects.exists()


def test_it_gives_up_on_a_deployment_whose_server_was_never_started(owner, fake_vllm, tiny_model, settings):
    deployment = Deployment.objects.create(model_path=tiny_model, served_model_name="x", host=settings.HOSTNAME)
    GpuClaim.objects.create(gpu_index=0, holder_kind="deployment", holder_id=str(deployment.pk))
    Deployment.objects.filter(pk=deployment.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    DeploymentSupervisor().tick()

    deployment.refresh_from_db()
    assert deployment.status == "failed" and "never started" in deployment.status_detail
    assert not GpuClaim.objects.exists()


def test_it_finishes_a_stop_whose_requester_died(owner, fake_vllm, tiny_model):
    fake_behaviour(fake_vllm, "--fake-ignore-sigterm")
    deployment = deploy(owner, tiny_model)
    Deployment.objects.filter(pk=deployment.pk).update(stop_requested_at=timezone.now() - timedelta(hours=1))

    stopped = supervise_until(deployment.pk, "stopped")

    assert processes.group_members(server_of(deployment).pid) == []
    assert not GpuClaim.objects.exists()
    assert stopped.stopped_at is not None


def test_it_leaves_a_deployment_being_stopped_to_its_stopper(owner, fake_vllm, tiny_model):
    fake_behaviour(fake_vllm, "--fake-crash-after 0")
    deployment = deploy(owner, tiny_model)
    wait_for(lambda: not processes.is_running(server_of(deployment)), timeout=15, what="the crash")
    Deployment.objects.filter(pk=deployment.pk).update(stop_requested_at=timezone.now())

    DeploymentSupervisor().tick()

    assert Deployment.objects.get(pk=deployment.pk).status == "starting"


def test_it_does_not_call_a_server_failed_when_a_stop_began_after_it_looked(owner, fake_vllm, tiny_model):
    fake_behaviour(fake_vllm, "--fake-crash-after 0")
    deployment = deploy(owner, tiny_model)  # as the supervisor read it
    Deployment.objects.filter(pk=deployment.pk).update(stop_requested_at=timezone.now())  # a DELETE arrives
    wait_for(lambda: not processes.is_running(server_of(deployment)), timeout=15, what="the server to exit")

    supervise(deployment)

    assert Deployment.objects.get(pk=deployment.pk).status == "starting"  # left for the stopper to finish


def test_it_tells_the_projects_webhooks_when_a_server_turns_unhealthy(
    owner, project, fake_vllm, tiny_model, django_capture_on_commit_callbacks
):
    fake_behaviour(fake_vllm, "--fake-unhealthy-after 1.5")
    with receiver() as hook:
        create_subscription(project=project, actor=owner, url=hook.url, events=["deployment.unhealthy"])
        deployment = create_deployment(actor=owner, model_path=tiny_model, project=project)
        running = supervise_until(deployment.pk, "running")
        assert running.last_probe_seconds is not None and 0 < running.last_probe_seconds < 3
        with django_capture_on_commit_callbacks(execute=True):
            supervise_until(deployment.pk, "unhealthy")

    [request] = hook.requests
    body = json.loads(request.body)
    assert body["event"] == "deployment.unhealthy"
    assert body["data"]["deployment_id"] == str(deployment.pk)
    assert "/health answered 503" in body["data"]["detail"]
