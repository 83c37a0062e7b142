from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"

    def ready(self) -> None:
        from deployments import checks  # noqa: F401  (registers the system checks)
        from deployments.supervisor import DeploymentSupervisor
        from llmplatform import supervision

        supervision.register(DeploymentSupervisor)
