from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LlmplatformConfig(AppConfig):
    name = "llmplatform"
    verbose_name = _("Platform")

    def ready(self) -> None:
        from llmplatform import supervision  # noqa: F401  (wakes the supervision loops in new django-q2 workers)
