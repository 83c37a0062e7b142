from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"

    def ready(self) -> None:
        from llmplatform import supervision
        from runs import checks  # noqa: F401  (registers the system checks)
        from runs.supervisor import RunSupervisor

        supervision.register(RunSupervisor)
