from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = _("Deployments")

    def ready(self) -> None:
        from deployments import checks  # noqa: F401  (registers the system checks)
        from deployments.supervisor import DeploymentSupervisor
        from llmplatform import supervision

        supervision.register(DeploymentSupervisor)
