from django.apps import AppConfig


class LlmplatformConfig(AppConfig):
    name = "llmplatform"
    verbose_name = "Platform"

    def ready(self) -> None:
        from llmplatform import supervision  # noqa: F401  (wakes the supervision loops in new django-q2 workers)
