from django.apps import AppConfig


class GpusConfig(AppConfig):
    name = "gpus"
    verbose_name = "GPUs"

    def ready(self) -> None:
        from gpus import checks  # noqa: F401  (registers the system checks)
