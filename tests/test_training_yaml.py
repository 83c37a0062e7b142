"""llmplatform.training_yaml: the bounded loader behind config uploads and run launches."""

from __future__ import annotations

import ast
import inspect
import re
import string
import sys
import textwrap

import pytest
import yaml
from django.utils import translation
from yaml.reader import ReaderError

from datasets.tests.test_train_config_views import SEED_SFT_YAML, YAML_BOMB
from llmplatform.sentences import translate
from llmplatform.training_yaml import (
    MAX_YAML_DEPTH,
    QUOTE_CHARS,
    TrainingYamlError,
    load_training_yaml,
    read_training_yaml,
)
from llmplatform.yaml_messages import CONTEXTS, PROBLEMS


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


def pyyaml_messages() -> set[str]:
    """Every context and problem text the classes of yaml.SafeLoader raise about a document, as PyYAML's
    source writes them (`"found undefined alias %r"`): the first and third arguments of a MarkedYAMLError,
    a ReaderError's reason."""
    found = set()
    for cls in yaml.SafeLoader.__mro__:
        if not cls.__module__.startswith("yaml."):
            continue
        namespace = vars(sys.modules[cls.__module__])
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(cls)))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            error = namespace.get(getattr(node.exc.func, "id", ""))
            if not isinstance(error, type) or not issubclass(error, yaml.MarkedYAMLError | ReaderError):
                continue  # the resolver's errors are about registering resolvers, never about a document
            positions = (4,) if issubclass(error, ReaderError) else (0, 2)
            for argument in (node.exc.args[i] for i in positions if i < len(node.exc.args)):
                text = argument.left if isinstance(argument, ast.BinOp) else argument
                if isinstance(text, ast.Constant) and isinstance(text.value, str):
                    found.add(text.value)
    return found


def shape(catalog_message: str) -> str:
    """A catalog message with `%s` where it has a placeholder, and single braces, as PyYAML would write it."""
    parts = string.Formatter().parse(catalog_message)
    return "".join(literal + ("%s" if field is not None else "") for literal, field, *_ in parts)


def test_it_has_every_context_and_problem_pyyaml_raises_in_the_catalog():
    ours = {shape(message) for message in (*CONTEXTS, *PROBLEMS)}
    messages = pyyaml_messages()
    missing = []
    for message in messages:
        # A placeholder PyYAML fills with one of a few words ("while scanning an %s": alias, anchor) has each
        # of them written out, so that a translation may put the word where its language wants it.
        words = re.compile(re.escape(re.sub(r"%[rsd]", "%s", message)).replace("%s", r"\w+"))
        if re.sub(r"%[rsd]", "%s", message) not in ours and not any(words.fullmatch(text) for text in ours):
            missing.append(message)
    assert len(messages) > 60
    assert missing == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b"task_type: [sft\n",
            "not valid YAML: while parsing a flow sequence (line 1, column 12), "
            "expected ',' or ']', but got '<stream end>' (line 2, column 1)",
        ),
        (b"a: 1\n  b: 2\n", "not valid YAML: mapping values are not allowed here (line 2, column 4)"),
        (
            b"a: @b\n",
            "not valid YAML: found character '@' that cannot start any token "
            "(while scanning for the next token, line 1, column 4)",
        ),
        (b"a: *b\n", "not valid YAML: found undefined alias 'b' (line 1, column 4)"),
        (
            b"a: \x01\n",
            "not valid YAML: unacceptable character #x0001 at position 3: special characters are not allowed",
        ),
    ],
)
def test_it_says_what_the_parser_found_and_where_without_quoting_the_document(content, problem):
    with pytest.raises(TrainingYamlError) as refusal:
        load_training_yaml(content)

    assert refusal.value.problems == [problem]


def test_it_refuses_a_date_that_does_not_exist_in_a_sentence():
    with pytest.raises(TrainingYamlError) as refusal:
        load_training_yaml(b"task_type: sft\nreleased: 2024-13-01\n")

    assert refusal.value.problems == [
        "not valid YAML: a value written as a date or time is none (month must be in 1..12)"
    ]
    with translation.override("zh-hans"):
        assert not re.search(r"[a-z]{3,}", translate(refusal.value.problems[0]).replace("YAML", ""))


def test_it_has_the_parsers_sentences_read_in_chinese():
    sentence = (
        "not valid YAML: found duplicate anchor 'a'; first occurrence (line 1, column 4), "
        "second occurrence (line 2, column 4)"
    )
    with pytest.raises(TrainingYamlError) as refusal:
        load_training_yaml(b"a: &a 1\nb: &a 2\n")
    assert refusal.value.problems == [sentence]

    with translation.override("zh-hans"):
        translated = translate(sentence)

    assert "'a'" in translated and not re.search(r"[a-z]{3,}", translated.replace("YAML", ""))
