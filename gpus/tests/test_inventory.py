"""gpus.inventory: which GPUs a host has and what model each is."""

from __future__ import annotations

import pytest

from gpus.inventory import Gpu, list_gpus


def test_it_reads_gpu_ids_with_and_without_model_names(settings):
    settings.GPU_IDS = "0:NVIDIA A100-SXM4-80GB, 1 : NVIDIA L4,3"

    assert list_gpus() == [Gpu(0, "NVIDIA A100-SXM4-80GB"), Gpu(1, "NVIDIA L4"), Gpu(3)]


@pytest.mark.parametrize(
    ("gpu_type", "matches"),
    [("A100", True), ("a100", True), ("A100 80GB", True), ("nvidia a100-sxm4-80gb", True), ("", True)],
)
def test_it_matches_a_gpu_type_against_the_model_name_case_aside(gpu_type, matches):
    assert Gpu(0, "NVIDIA A100-SXM4-80GB").has_type(gpu_type) is matches


@pytest.mark.parametrize("gpu_type", ["A10", "A100 40GB", "H100", "L4"])
def test_it_does_not_take_one_model_for_a_similar_one(gpu_type):
    assert Gpu(0, "NVIDIA A100-SXM4-80GB").has_type(gpu_type) is False
