"""gpus.checks: `manage.py check` names a broken GPU_IDS before a request trips on it."""

from __future__ import annotations

import pytest

from gpus.checks import gpu_settings


@pytest.mark.parametrize("value", ["", "0,1", "0:NVIDIA A100-SXM4-80GB, 1:NVIDIA L4"])
def test_it_accepts_gpu_ids_with_and_without_names(settings, value):
    settings.GPU_IDS = value

    assert gpu_settings(None) == []


@pytest.mark.parametrize("value", ["gpu0", "0;1", "0,0", "-1", "A100:0"])
def test_it_names_the_item_that_is_not_an_index(settings, value):
    settings.GPU_IDS = value

    errors = gpu_settings(None)

    assert [error.id for error in errors] == ["gpus.E001"]
    assert "GPU_IDS item" in errors[0].msg
