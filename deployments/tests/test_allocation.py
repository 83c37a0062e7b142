"""deployments.allocation: ports reserved in the database and checked by binding; GPUs from the ledger."""

from __future__ import annotations

import socket

import pytest
from django.db import IntegrityError, transaction

from deployments.allocation import port_is_bindable, reserve_port
from deployments.models import Deployment
from llmplatform.errors import ConflictingState

pytestmark = pytest.mark.django_db


@pytest.fixture
def reuseport_listener():
    """A listener like vLLM's (SO_REUSEPORT): a second such server would bind the same port silently."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    yield listener.getsockname()[1]
    listener.close()


def test_it_sees_a_port_held_by_a_reuseport_listener_as_taken(reuseport_listener):
    assert not port_is_bindable(reuseport_listener)


def test_it_skips_ports_something_else_listens_on(settings, reuseport_listener, owner):
    settings.DEPLOY_PORT_RANGE = f"{reuseport_listener}-{reuseport_listener + 1}"
    deployment = Deployment.objects.create(model_path="m", served_model_name="m", host=settings.HOSTNAME)

    assert reserve_port(deployment) == reuseport_listener + 1


def test_it_skips_ports_live_deployments_hold_but_reuses_those_of_ended_ones(settings, port_range_base):
    settings.DEPLOY_PORT_RANGE = f"{port_range_base}-{port_range_base + 1}"
    Deployment.objects.create(model_path="m", served_model_name="m", host=settings.HOSTNAME, port=port_range_base)
    Deployment.objects.create(
        model_path="m", served_model_name="m", host=settings.HOSTNAME, port=port_range_base + 1, status="stopped"
    )
    deployment = Deployment.objects.create(model_path="m", served_model_name="m", host=settings.HOSTNAME)

    assert reserve_port(deployment) == port_range_base + 1
    assert Deployment.objects.get(pk=deployment.pk).port == port_range_base + 1


def test_it_refuses_when_the_range_is_used_up(settings, port_range_base):
    settings.DEPLOY_PORT_RANGE = f"{port_range_base}-{port_range_base}"
    Deployment.objects.create(model_path="m", served_model_name="m", host=settings.HOSTNAME, port=port_range_base)
    deployment = Deployment.objects.create(model_path="m", served_model_name="m", host=settings.HOSTNAME)

    with pytest.raises(ConflictingState, match="No free port"):
        reserve_port(deployment)


def test_it_lets_the_database_refuse_a_second_live_deployment_on_a_port(settings):
    Deployment.objects.create(model_path="m", served_model_name="m", host=settings.HOSTNAME, port=8200)

    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(model_path="m", served_model_name="m", host=settings.HOSTNAME, port=8200)
