"""DeploymentSupervisor: the deployments' duty, and `manage.py supervise deployments`.

How its loop holds a lease and hands over is tested once for every duty in
tests/test_supervision.py.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command

from deployments.models import Deployment
from deployments.services import create_deployment
from deployments.supervisor import DeploymentSupervisor
from deployments.tests.conftest import fake_behaviour
from llmplatform import leases, supervision
from llmplatform.models import SupervisorLease

pytestmark = pytest.mark.django_db


def test_it_has_work_while_a_deployment_of_this_host_is_live(settings):
    deployment = Deployment.objects.create(model_path="models/m", served_model_name="m", host="other-host")
    assert not DeploymentSupervisor.has_work()

    Deployment.objects.filter(pk=deployment.pk).update(host=settings.HOSTNAME)
    assert DeploymentSupervisor.has_work()

    Deployment.objects.filter(pk=deployment.pk).update(status="stopped")
    assert not DeploymentSupervisor.has_work()


@pytest.mark.slow
def test_it_supervises_once_from_the_command_line(owner, fake_vllm, tiny_model, capsys):
    fake_behaviour(fake_vllm, "--fake-load-seconds 30")
    deployment = create_deployment(actor=owner, model_path=tiny_model)

    call_command("supervise", "deployments", "--once")

    assert "stopped." in capsys.readouterr().out
    assert Deployment.objects.get(pk=deployment.pk).last_probe_at is not None
    assert SupervisorLease.objects.get().lease_owner == ""


def test_it_leaves_the_work_to_the_loop_holding_the_lease(capsys):
    loop = supervision.Loop("deployments")
    loop.lease.take_lease(leases.owner_name("deployments-elsewhere"), seconds=60)

    call_command("supervise", "deployments", "--once")

    assert f"Another live loop holds {loop.lease.name}; nothing done." in capsys.readouterr().out


def test_it_refuses_a_duty_it_does_not_know(capsys):
    with pytest.raises(SystemExit):
        call_command("supervise", "gardening")

    assert "Unknown duty gardening" in capsys.readouterr().err
