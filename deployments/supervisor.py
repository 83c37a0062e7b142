"""The deployments' supervision duty: keep this host's model servers probed.

Each tick (`DEPLOY_PROBE_INTERVAL_SECONDS`) it reads every live deployment of this
host from the database, so a restarted loop re-attaches to servers that kept running
(identified by pid and process start time) and marks those that died meanwhile as
failed. How and where the loop runs, and how a dead loop is replaced, is
`llmplatform.supervision`'s (one design for every duty).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import ClassVar

from django.conf import settings

from deployments import services
from deployments.models import Deployment
from llmplatform import leases
from llmplatform.supervision import always

logger = logging.getLogger(__name__)


class DeploymentSupervisor:
    name: ClassVar[str] = "deployments"

    def __init__(self, *, owner: str = "") -> None:
        self.owner = owner or leases.owner_name(f"{self.name}-{uuid.uuid4().hex[:8]}")
        self.interval = float(settings.DEPLOY_PROBE_INTERVAL_SECONDS)

    @classmethod
    def has_work(cls) -> bool:
        return Deployment.objects.live().on_this_host().exists()

    def tick(self, keep_going: Callable[[], bool] = always) -> None:
        """Supervise every live deployment of this host once (probes take a while: the lease is renewed between)."""
        for deployment in Deployment.objects.live().on_this_host():
            if not keep_going():
                break
            try:
                services.supervise(deployment)
            except Exception:  # one broken deployment must not blind the supervisor to the others
                logger.exception("Supervising deployment %s failed", deployment.pk)

    def let_go(self) -> None:
        """Nothing: the loop's lease is all a deployment supervisor holds."""
