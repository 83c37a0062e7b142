"""deployments.checks: `manage.py check` names broken deployment settings before a request trips on them."""

from __future__ import annotations

import pytest

from deployments.checks import deployment_settings


def test_it_accepts_the_defaults():
    assert deployment_settings(None) == []


@pytest.mark.parametrize(
    ("setting", "value", "error_id"),
    [
        ("DEPLOY_PORT_RANGE", "8200", "deployments.E001"),
        ("DEPLOY_PORT_RANGE", "9000-8000", "deployments.E001"),
        ("DEPLOY_PORT_RANGE", "80-90", "deployments.E001"),
        ("VLLM_COMMAND", "vllm serve {model} --port {port}", "deployments.E002"),
        ("VLLM_COMMAND", "vllm serve '{model_path}", "deployments.E002"),
    ],
)
def test_it_names_a_broken_setting(settings, setting, value, error_id):
    setattr(settings, setting, value)

    assert [error.id for error in deployment_settings(None)] == [error_id]
