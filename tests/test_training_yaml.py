"""llmplatform.training_yaml: the bounded loader behind config uploads and run launches."""

from __future__ import annotations

import pytest

from datasets.tests.test_train_config_views import SEED_SFT_YAML, YAML_BOMB
from llmplatform.training_yaml import (
    MAX_YAML_DEPTH,
    QUOTE_CHARS,
    TrainingYamlError,
    load_training_yaml,
    read_training_yaml,
)


def test_it_refuses_an_alias_bomb_before_expanding_it():
    with pytest.raises(TrainingYamlError, match="expansion bomb"):
        load_training_yaml(YAML_BOMB)


def test_it_refuses_few_aliases_that_expand_to_a_huge_document():
    wide = "[" + ",".join(["1"] * 20_000) + "]"
    content = f"a: &a {wide}\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n".encode()

    with pytest.raises(TrainingYamlError, match="expands to more than"):
        load_training_yaml(content)


@pytest.mark.parametrize("depth", [MAX_YAML_DEPTH + 1, 5_000])
def test_it_refuses_a_document_nested_deeper_than_the_limit(depth):
    content = ("a: " + "[" * (depth - 1) + "]" * (depth - 1)).encode()

    with pytest.raises(TrainingYamlError, match=f"nested more than {MAX_YAML_DEPTH} levels deep"):
        load_training_yaml(content)


def test_it_reads_a_document_nested_as_deep_as_the_limit():
    content = ("a: " + "[" * (MAX_YAML_DEPTH - 1) + "1" + "]" * (MAX_YAML_DEPTH - 1)).encode()

    assert "a" in load_training_yaml(content)


def test_it_allows_a_few_merge_keys():
    content = b"base: &base {learning_rate: 1.0e-4}\ntask_type: sft\n<<: *base\nmodel_name: m\ndataset: d\n"

    assert load_training_yaml(content)["learning_rate"] == 1.0e-4


def test_it_refuses_python_tags():
    with pytest.raises(TrainingYamlError, match="not valid YAML"):
        load_training_yaml(b"task_type: !!python/object/apply:os.system ['true']\n")


def test_it_quotes_only_the_start_of_a_huge_parser_message():
    content = f"task_type: !!python/{'x' * 100_000} 1\n".encode()

    with pytest.raises(TrainingYamlError, match="more characters") as refusal:
        load_training_yaml(content)

    assert len(str(refusal.value)) < QUOTE_CHARS + 100


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "the file is empty"), (b"- a\n- list\n", "got list"), (b"1: one\n", "must be a string")],
)
def test_it_refuses_what_is_not_a_mapping_of_names(content, problem):
    with pytest.raises(TrainingYamlError, match=problem):
        load_training_yaml(content)


def test_it_reads_a_file_from_disk_under_the_size_limit(tmp_path, settings):
    path = tmp_path / "config.yaml"
    path.write_bytes(SEED_SFT_YAML)
    assert read_training_yaml(path)["model_name"] == "qwen-7b"

    settings.MAX_YAML_BYTES = 10
    with pytest.raises(TrainingYamlError, match="larger than the 10 bytes"):
        read_training_yaml(path)
