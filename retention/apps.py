from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RetentionConfig(AppConfig):
    name = "retention"
    verbose_name = _("Checkpoint retention")

    def ready(self) -> None:
        from retention import receivers  # noqa: F401  (connects to runs.signals.run_finished)
