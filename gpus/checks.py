"""System checks (`manage.py check`, and every `runserver`/`migrate`): GPU_IDS makes sense."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from gpus.inventory import configured_gpus


@register()
def gpu_settings(app_configs, **kwargs) -> list[Error]:
    try:
        configured_gpus(settings.GPU_IDS)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint='Set GPU_IDS to "0,1" or "0:NVIDIA A100-SXM4-80GB,1:NVIDIA L4".', id="gpus.E001")]
    return []
