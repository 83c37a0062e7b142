"""The training YAML schema: each task's keys, LLaMA-Factory / Hugging Face names, ranges."""

from __future__ import annotations

import pytest
import yaml

from datasets.tests.test_train_config_views import LLAMA_FACTORY_LORA_YAML, SEED_SFT_YAML
from datasets.yaml_schema import check_training_yaml, infer_task_type, inspect_training_yaml
from llmplatform.training_yaml import load_training_yaml

SEED_CONFIGS = {
    "rl": """task_type: rl
algorithm: ppo
policy_model: qwen-7b-sft
reward_model: qwen-7b-rm
dataset: datasets/rl_preference.jsonl
rollout_batch_size: 16
update_epochs: 4
kl_target: 0.1
""",
    "lora": """task_type: lora
base_model: llama2-7b
dataset: datasets/lora_demo.jsonl
lora_r: 8
lora_alpha: 16
lora_dropout: 0.05
train_batch_size: 64
gradient_accumulation_steps: 4
use_8bit: true
""",
    "pretrain": """task_type: pretrain
model_name: llama2-7b
dataset: datasets/pretrain_corpus.jsonl
sequence_length: 4096
global_batch_size: 1024
learning_rate: 3e-4
warmup_ratio: 0.01
tokenizer: configs/tokenizer.model
""",
    "sft": SEED_SFT_YAML.decode(),
}

LLAMA_FACTORY_DPO = """model_name_or_path: meta-llama/Meta-Llama-3-8B-Instruct
stage: dpo
do_train: true
finetuning_type: lora
pref_beta: 0.1
dataset: dpo_en_demo
cutoff_len: 2048
per_device_train_batch_size: 1
learning_rate: 5.0e-6
"""

LLAMA_FACTORY_PRETRAIN = """model_name_or_path: Qwen/Qwen2.5-0.5B
stage: pt
finetuning_type: full
dataset: c4_demo
cutoff_len: 1024
learning_rate: 1.0e-5
"""

HF_FULL_SFT = """model_name_or_path: Qwen/Qwen2.5-7B
stage: sft
finetuning_type: full
dataset_name: HuggingFaceH4/ultrachat_200k
max_length: 4096
per_device_train_batch_size: 2
learning_rate: 2.0e-5
num_train_epochs: 1
"""


@pytest.mark.parametrize("task_type", sorted(SEED_CONFIGS))
def test_it_accepts_the_seed_configs_without_a_warning(task_type):
    report = inspect_training_yaml(load_training_yaml(SEED_CONFIGS[task_type].encode()))

    assert report.task_type == task_type
    assert report.problems == []
    assert report.warnings == []


@pytest.mark.parametrize(
    ("content", "task_type"),
    [
        (LLAMA_FACTORY_LORA_YAML.decode(), "lora"),
        (LLAMA_FACTORY_DPO, "rl"),
        (LLAMA_FACTORY_PRETRAIN, "pretrain"),
        (HF_FULL_SFT, "sft"),
    ],
)
def test_it_accepts_real_llama_factory_and_hugging_face_configs(content, task_type):
    mapping = load_training_yaml(content.encode())

    report = inspect_training_yaml(mapping)

    assert report.task_type == task_type
    assert report.problems == []
    assert check_training_yaml(mapping) == []


def test_it_reads_equivalent_names_as_the_seed_keys():
    report = inspect_training_yaml(load_training_yaml(HF_FULL_SFT.encode()))

    assert report.values["model_name"] == "Qwen/Qwen2.5-7B"
    assert report.values["max_seq_length"] == 4096
    assert report.dataset == "HuggingFaceH4/ultrachat_200k"


def test_it_reads_yaml_1_1_exponent_strings_as_numbers():
    # PyYAML reads `2e-5` as a string; trainers take it as a number.
    assert yaml.safe_load("learning_rate: 2e-5")["learning_rate"] == "2e-5"
    assert check_training_yaml({"task_type": "sft", "model_name": "m", "dataset": "d", "learning_rate": "2e-5"}) == []


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        ({"learning_rate": 0}, "learning_rate: must be greater than 0 and at most 1, got 0"),
        ({"learning_rate": "fast"}, "learning_rate: must be a number, got 'fast'"),
        ({"max_seq_length": 1.5}, "max_seq_length: must be an integer, got 1.5"),
        ({"cutoff_len": -1}, "cutoff_len: must be greater than 0, got -1"),
        ({"warmup_ratio": 1.5}, "warmup_ratio: must be at least 0 and at most 1, got 1.5"),
        ({"model_name": ""}, "model_name: must be a non-empty string, got ''"),
        ({"per_device_train_batch_size": True}, "per_device_train_batch_size: must be an integer, got True"),
    ],
)
def test_it_checks_types_and_ranges(mapping, problem):
    base = {"task_type": "sft", "model_name": "m", "dataset": "d"}

    assert check_training_yaml({**base, **mapping}) == [problem]


def test_it_checks_lora_dropout_below_one():
    mapping = {"task_type": "lora", "base_model": "m", "dataset": "d", "lora_dropout": 1}

    assert check_training_yaml(mapping) == ["lora_dropout: must be at least 0 and less than 1, got 1"]


def test_it_warns_about_recommended_keys_and_passes_unknown_ones():
    report = inspect_training_yaml({"task_type": "sft", "model_name": "m", "dataset": "d", "my_own_knob": 3})

    assert report.problems == []
    assert "learning_rate: recommended for sft, not set" in report.warnings


def test_it_requires_a_reward_model_for_ppo_only():
    base = {"task_type": "rl", "policy_model": "p", "dataset": "d"}

    assert check_training_yaml({**base, "algorithm": "ppo"}) == [
        "reward_model (or reward_model_name_or_path): required for rl"
    ]
    assert check_training_yaml({**base, "algorithm": "dpo"}) == []


def test_it_names_an_unknown_or_missing_task_type():
    assert check_training_yaml({"task_type": "rlhf"}) == [
        "task_type: must be one of sft, lora, rl, pretrain, got 'rlhf'"
    ]
    assert check_training_yaml({"model_name": "m"})[0].startswith("task_type: missing")


def test_it_takes_the_callers_task_type_as_a_fallback_and_warns_on_a_mismatch():
    assert check_training_yaml({"model_name": "m", "dataset": "d"}, task_type="sft") == []
    report = inspect_training_yaml({"task_type": "lora", "base_model": "m", "dataset": "d"}, task_type="sft")
    assert report.task_type == "lora"
    assert report.warnings[0] == "task_type: the YAML is for 'lora' but 'sft' was expected"


@pytest.mark.parametrize(
    ("stage", "finetuning_type", "task_type"),
    [
        ("sft", "lora", "lora"),
        ("sft", "full", "sft"),
        ("sft", None, "sft"),
        ("pt", "full", "pretrain"),
        ("ppo", "lora", "rl"),
        ("rm", None, "rl"),
        (None, "lora", "lora"),
        (None, None, None),
    ],
)
def test_it_infers_the_task_type_from_llama_factory_keys(stage, finetuning_type, task_type):
    mapping = {key: value for key, value in (("stage", stage), ("finetuning_type", finetuning_type)) if value}

    assert infer_task_type(mapping) == task_type
