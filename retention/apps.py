from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "retention"
    verbose_name = "Checkpoint retention"

    def ready(self) -> None:
        from retention import receivers  # noqa: F401  (connects to runs.signals.run_finished)
