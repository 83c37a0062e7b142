"""deployments.tasks: a django-q2 worker alone (`manage.py qcluster`) keeps deployments probed."""

from __future__ import annotations

import signal
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from deployments.models import Deployment
from deployments.schedules import SUPERVISE_SCHEDULE_NAME, ensure_supervise_schedule
from deployments.services import create_deployment
from deployments.tasks import supervise_deployments
from llmplatform.testing import wait_for


@pytest.mark.django_db
def test_it_has_nothing_to_do_without_live_deployments():
    assert supervise_deployments() == "No live deployment on this host."


@pytest.mark.django_db
def test_it_runs_the_supervisor_for_a_while(owner, fake_vllm, tiny_model, settings):
    settings.DEPLOY_SUPERVISOR_TASK_SECONDS = 1.0
    deployment = create_deployment(actor=owner, model_path=tiny_model, extra_args="--fake-load-seconds 0.3")

    supervise_deployments()

    assert Deployment.objects.get(pk=deployment.pk).status == "running"


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_it_is_scheduled_so_qcluster_alone_probes_deployments(owner, platform_process, tiny_model):
    ensure_supervise_schedule()  # as migration 0002 did (transactional tests empty the tables)
    assert Schedule.objects.get(name=SUPERVISE_SCHEDULE_NAME).func == "deployments.tasks.supervise_deployments"
    deployment = create_deployment(actor=owner, model_path=tiny_model)
    cluster = platform_process("qcluster", log_name="qcluster")

    # django-q2 looks at schedules about 30 s after it starts.
    wait_for(lambda: Deployment.objects.get(pk=deployment.pk).status == "running", timeout=90, what="qcluster's probe")
    # Each task probes for 4 s (DEPLOY_SUPERVISOR_TASK_SECONDS here), then its successor goes on.
    later = timezone.now() + timedelta(seconds=6)
    wait_for(
        lambda: Deployment.objects.get(pk=deployment.pk).last_probe_at > later,
        timeout=30,
        what="probes by the successor task",
    )
    cluster.send_signal(signal.SIGTERM)
    assert cluster.wait(timeout=60) == 0
