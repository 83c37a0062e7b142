"""System checks (`manage.py check`, and every `runserver`/`migrate`): the deployment settings make sense."""

from __future__ import annotations

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from deployments.allocation import port_range
from deployments.vllm import build_argv, policy_problems


@register()
def deployment_settings(app_configs, **kwargs) -> list[Error]:
    errors = []
    try:
        port_range()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), hint="Set DEPLOY_PORT_RANGE to low-high, e.g. 8200-8299.", id="deployments.E001"))
    try:
        build_argv(model_path="/m", port=8200, served_model_name="m", gpu_id=0)
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), hint="Fix VLLM_COMMAND.", id="deployments.E002"))
    errors += [
        Error(problem, hint="Bring deployments/vllm_policy.py in line with vllm_options.json.", id="deployments.E003")
        for problem in policy_problems()
    ]
    return errors
