"""System checks: a broken TRAINING_COMMAND is found at start-up, not at the first launch."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from projects.training_command import check_command_template


@register()
def check_training_command(app_configs, **kwargs) -> list[Error]:
    try:
        check_command_template(settings.TRAINING_COMMAND)
    except ValueError as exc:
        return [Error(f"TRAINING_COMMAND {settings.TRAINING_COMMAND!r} cannot be used: {exc}", id="runs.E001")]
    return []
