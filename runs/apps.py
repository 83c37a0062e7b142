from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = _("Runs")

    def ready(self) -> None:
        from llmplatform import supervision
        from runs import checks  # noqa: F401  (registers the system checks)
        from runs.supervisor import RunSupervisor

        supervision.register(RunSupervisor)
