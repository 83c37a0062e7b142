"""runs.launch: the command template, the effective config, the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from runs.launch import build_argv, effective_config, process_env

VALUES = {
    "training_yaml": "/runs/1/config.yaml",
    "run_id": "1",
    "run_dir": "/runs/1",
    "output_dir": "/o",
    "dataset": "/d",
}


def test_it_splits_the_template_once_and_keeps_values_whole():
    values = {**VALUES, "training_yaml": "/path with spaces/it's; rm -rf ~.yaml"}

    argv = build_argv("bash run_train_full_sft.sh {training_yaml}", values)

    assert argv == ["bash", "run_train_full_sft.sh", "/path with spaces/it's; rm -rf ~.yaml"]


def test_it_refuses_an_unknown_placeholder():
    with pytest.raises(ValueError, match="trainig_yaml"):
        build_argv("train {trainig_yaml}", VALUES)


def test_it_adds_only_output_dir_and_resume_from_checkpoint():
    base = {"model_name_or_path": "m", "learning_rate": 1e-5, "output_dir": "shared/out"}

    config = effective_config(
        base, overrides={"learning_rate": 2e-5}, output_dir=Path("/runs/2/output"), resume_from_checkpoint=None
    )
    resumed = effective_config(
        base,
        overrides={},
        output_dir=Path("/runs/3/output"),
        resume_from_checkpoint=Path("/runs/2/output/checkpoint-5"),
    )

    assert config == {"model_name_or_path": "m", "learning_rate": 2e-5, "output_dir": "/runs/2/output"}
    assert set(resumed) - set(base) == {"resume_from_checkpoint"}
    assert resumed["resume_from_checkpoint"] == "/runs/2/output/checkpoint-5"


def test_it_sets_cuda_visible_devices_only_when_gpus_are_assigned():
    with_gpus = process_env(run_id="r", run_dir=Path("/r"), output_dir=Path("/r/o"), resume_from="", gpu_indices=[2, 3])
    without = process_env(run_id="r", run_dir=Path("/r"), output_dir=Path("/r/o"), resume_from="/c", gpu_indices=[])

    assert with_gpus["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert "CUDA_VISIBLE_DEVICES" not in without
    assert without["LLMP_RESUME_FROM"] == "/c"
    assert without["LLMP_OUTPUT_DIR"] == "/r/o" and without["LLMP_RUN_DIR"] == "/r" and without["LLMP_RUN_ID"] == "r"
