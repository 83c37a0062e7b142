"""DeploymentSupervisor: one per host at a time (a lease in the database), stopping when told."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from deployments.models import Deployment, SupervisorLease
from deployments.services import create_deployment
from deployments.supervisor import DeploymentSupervisor

pytestmark = pytest.mark.django_db


def test_it_holds_the_hosts_lease_alone_until_it_expires_or_is_released():
    first, second = DeploymentSupervisor(), DeploymentSupervisor()

    assert first.acquire_lease() and first.acquire_lease()  # renewing is fine
    assert not second.acquire_lease()
    SupervisorLease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))  # the holder died
    assert second.acquire_lease()
    assert not first.acquire_lease()
    second.release_lease()
    assert first.acquire_lease()


def test_it_stops_when_told_and_gives_its_lease_back():
    supervisor = DeploymentSupervisor()
    stop = threading.Event()
    stop.set()

    supervisor.run(stop=stop)

    assert not SupervisorLease.objects.exists()


@pytest.mark.slow
def test_it_supervises_once_from_the_command_line(owner, fake_vllm, tiny_model, capsys):
    deployment = create_deployment(actor=owner, model_path=tiny_model, extra_args="--fake-load-seconds 30")

    call_command("supervise_deployments", "--once")

    assert "Supervised 1 deployment(s)." in capsys.readouterr().out
    assert Deployment.objects.get(pk=deployment.pk).last_probe_at is not None
    assert not SupervisorLease.objects.exists()


def test_it_leaves_the_work_to_the_supervisor_holding_the_lease(capsys):
    DeploymentSupervisor().acquire_lease()

    call_command("supervise_deployments", "--once")

    assert "Another supervisor holds this host's lease" in capsys.readouterr().out


def test_it_keeps_going_when_the_database_is_briefly_unavailable(settings, monkeypatch):
    settings.DEPLOY_PROBE_INTERVAL_SECONDS = 0.01
    supervisor = DeploymentSupervisor()
    ticks, stop = [], threading.Event()
    outcomes = iter([OperationalError("server closed the connection unexpectedly"), None, None])

    def tick() -> int:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        ticks.append(1)
        if len(ticks) == 2:
            stop.set()
        return 0

    monkeypatch.setattr(supervisor, "tick", tick)

    supervisor.run(stop=stop, seconds=10)

    assert len(ticks) == 2
