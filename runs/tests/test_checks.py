"""runs.checks: the training command template is checked at start-up."""

from __future__ import annotations

from runs.checks import check_training_command


def test_it_accepts_the_seeds_default(settings):
    settings.TRAINING_COMMAND = "bash run_train_full_sft.sh {training_yaml}"

    assert check_training_command(None) == []


def test_it_names_an_unknown_placeholder_and_an_unclosed_quote(settings):
    settings.TRAINING_COMMAND = "bash train.sh {config}"
    [error] = check_training_command(None)
    assert "config" in error.msg and error.id == "runs.E001"

    settings.TRAINING_COMMAND = "bash 'train.sh {training_yaml}"
    assert check_training_command(None)[0].id == "runs.E001"
