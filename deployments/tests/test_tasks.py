"""Under qcluster alone, a new deployment is probed at once: creating it wakes the deployments' loop."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from deployments.models import Deployment
from deployments.services import create_deployment
from llmplatform.testing import wait_for


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_qcluster_alone_probes_a_new_deployment_and_hands_over_between_slices(
    owner, platform_process, tiny_model, settings
):
    cluster = platform_process("qcluster", log_name="qcluster")
    log = Path(settings.DATA_DIR) / "qcluster.log"
    wait_for(lambda: "running." in log.read_text(), timeout=60, what="qcluster to start")

    deployment = create_deployment(actor=owner, model_path=tiny_model)

    wait_for(lambda: Deployment.objects.get(pk=deployment.pk).status == "running", timeout=20, what="the first probe")
    # Each slice probes for 4 s (SUPERVISOR_TASK_SECONDS here), then its successor goes on.
    later = timezone.now() + timedelta(seconds=6)
    wait_for(
        lambda: Deployment.objects.filter(pk=deployment.pk, last_probe_at__gt=later).exists(),
        timeout=30,
        what="probes by the successor task",
    )
    cluster.send_signal(signal.SIGTERM)
    assert cluster.wait(timeout=60) == 0
