"""runs.ingest.levels: a line's level from the prefixes trainers print; tracebacks are ERROR."""

from __future__ import annotations

import pytest

from runs.ingest.levels import LevelClassifier, level_of


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("INFO:root:Loading dataset", "INFO"),
        ("WARNING:accelerate.utils:mixed precision is off", "WARNING"),
        ("ERROR:__main__:cannot open file", "ERROR"),
        ("[INFO|trainer.py:2412] >> ***** Running training *****", "INFO"),
        ("[WARNING|2025-01-01 12:00:00] llamafactory.hparams.parser:143 >> overwrite", "WARNING"),
        ("[ERROR|configuration_utils.py:10] >> bad config", "ERROR"),
        ("2025-01-01 12:00:00,123 - DEBUG - loader - reading shard 3", "DEBUG"),
        ("01/01/2025 12:00:00 - WARNING - llamafactory.model - fp16 overflow", "WARNING"),
        ("2025-01-01 12:00:00,123 ERROR runs.supervisor tick failed", "ERROR"),
        ("CRITICAL: disk full", "ERROR"),
        ("/venv/lib/torch/utils.py:12: UserWarning: TypedStorage is deprecated", "WARNING"),
        ("[rank0]: WARNING: NCCL timeout", "WARNING"),
        ("{'loss': '5.767', 'epoch': '0.125'}", "INFO"),
        ("the model's ERROR rate dropped", "INFO"),
        ("Saving model checkpoint to out/checkpoint-10", "INFO"),
    ],
)
def test_it_reads_the_level_a_line_announces(line, level):
    assert LevelClassifier().classify(line) == level


def test_every_line_of_a_traceback_is_an_error_and_it_ends_with_the_exception_line():
    lines = [
        "step 12",
        "Traceback (most recent call last):",
        '  File "train.py", line 9, in <module>',
        "    trainer.train()",
        "    ^^^^^^^^^^^^^^^",
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        "done",
    ]
    classifier = LevelClassifier()
    assert [classifier.classify(line) for line in lines] == ["INFO", *["ERROR"] * 5, "INFO"]


def test_chained_tracebacks_stay_errors():
    lines = [
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in <module>',
        "KeyError: 'x'",
        "During handling of the above exception, another exception occurred:",
        "Traceback (most recent call last):",
        '  File "a.py", line 3, in <module>',
        "ValueError: bad",
    ]
    classifier = LevelClassifier()
    assert [classifier.classify(line) for line in lines] == ["ERROR"] * 7


def test_the_traceback_state_carries_over_between_passes():
    first = LevelClassifier()
    first.classify("Traceback (most recent call last):")

    second = LevelClassifier(in_traceback=first.in_traceback)

    assert second.classify('  File "x.py", line 1, in f') == "ERROR"
    assert second.classify("RuntimeError: boom") == "ERROR"
    assert second.classify("next") == "INFO"


def test_level_of_looks_only_at_the_line_itself():
    assert level_of("    indented continuation") == "INFO"
