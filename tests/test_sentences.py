"""Sentences made in English reach the reader in their language: raised ones through their lazy
template, stored ones through the catalog template they were made from, with their values."""

from __future__ import annotations

import pytest
from django.core.validators import MaxLengthValidator
from django.utils import translation
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from datasets.validation import validate_file
from gpus.services import waiting_for
from llmplatform.api import exception_handler
from llmplatform.errors import InvalidInput, NotFound, refuse_invalid_fields
from llmplatform.sentences import english, translate, translate_lazy
from projects.trainer_arguments import config_problems, schema_for
from runs import healing


def in_chinese(text: str) -> str:
    with translation.override("zh-hans"):
        return translate(text)


def test_it_keeps_a_raised_sentence_in_english_for_the_api_and_renders_it_in_chinese_for_the_console():
    with translation.override("zh-hans"):
        error = NotFound(format_lazy(gettext_lazy("No project {reference!r}."), reference="demo"))
        response = exception_handler(error, {})
        shown = translate_lazy(error.message)

    assert error.detail == str(error) == "No project 'demo'."
    assert response is not None and response.data == {"detail": "No project 'demo'."}
    assert "'demo'" in shown and "No project" not in shown


def test_it_translates_a_stored_sentence_with_its_values():
    reason = waiting_for(count=2, gpu_type="A100", free=0, candidates=1)

    assert reason == "waiting for 2 A100 GPU(s), 0 free of 1"
    assert in_chinese(reason).count("2") == 1 and "A100" in in_chinese(reason)
    assert "waiting" not in in_chinese(reason)


def test_it_translates_sentences_placed_inside_sentences():
    reason = healing.preempted_note("checkpoint-40", waiting_for(count=1, gpu_type="", free=0, candidates=4))

    shown = in_chinese(reason)

    assert "checkpoint-40" in shown
    assert "preempted" not in shown and "waiting" not in shown


@pytest.mark.parametrize(
    "line",
    [
        "{oops",
        "[1, 2]",
        "   ",
        '{"messages": [{"role": "assistant", "content": "x"}]}',
        '{"messages": [{"role": "robot", "content": ""}], "metadata": 3}',
        '{"messages": "hi", "task_tags": [""]}',
        '{"instruction": "", "output": 2, "history": 1}',
    ],
)
def test_it_translates_every_reason_a_dataset_check_gives(tmp_path, line):
    path = tmp_path / "train.jsonl"
    path.write_text(line + "\n", encoding="utf-8")

    reasons = [error["reason"] for error in validate_file(path, "sft").errors]

    assert reasons
    for reason in reasons:
        shown = in_chinese(reason)
        assert shown != reason and not any(word in shown for word in ("must", "needs", "valid", "got")), reason


def test_it_translates_a_trainer_arguments_problems():
    schema = schema_for("llamafactory-0.9.x")
    assert schema is not None
    config = {"learning_rate": 0, "lerning_rate": 1e-5, "lr_scheduler_type": "sometimes", "bf16": "yes"}

    problems = config_problems(config, schema=schema, origin=dict.fromkeys(config, "hyperparameters"))

    assert len(problems) == 4
    for problem in problems:
        shown = in_chinese(problem.sentence)
        assert repr(problem.key) in shown
        assert not any(word in shown for word in ("must", "did you mean", " key ", "unknown")), shown


def test_it_leaves_a_sentence_the_catalog_does_not_know_as_it_is():
    assert in_chinese("Training failed: the process exited with code 3.") == (
        "Training failed: the process exited with code 3."
    )


def test_it_renders_a_validators_refusal_lazily():
    with pytest.raises(InvalidInput) as refused:
        refuse_invalid_fields({"name": "abcdef"}, {"name": MaxLengthValidator(3)})

    assert refused.value.detail.startswith("name: Ensure this value has at most 3 characters")
    with translation.override("zh-hans"):
        assert "Ensure" not in translate_lazy(refused.value.message)
    assert english(refused.value.message) == refused.value.detail
