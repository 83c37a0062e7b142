"""runs.ingest.progress: one parser per trainer format."""

from __future__ import annotations

import pytest

from runs.ingest.metrics import MetricSample
from runs.ingest.progress import (
    StepProgress,
    from_bar,
    from_llamafactory_record,
    from_metrics_record,
    from_trainer_state,
    furthest,
    parse_clock,
    split_bar,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0:03:05", 185), ("12:30", 750), ("1 day, 2:00:00", 93600), ("2 days, 0:00:01", 172801), ("soon", None)],
)
def test_it_reads_clock_strings(text, seconds):
    assert parse_clock(text) == seconds


def test_it_reads_the_training_bar():
    bar = " 45%|████▌     | 45/100 [00:09<00:11,  4.80it/s]"
    assert from_bar(bar) == StepProgress(current=45, total=100, eta_seconds=11)
    assert from_bar("  0%|          | 0/21 [00:00<?, ?it/s]") == StepProgress(0, 21, None)
    assert from_bar("Training: 10%|#         | 10/100 [01:00<09:00, 6.00s/it]") == StepProgress(10, 100, 540)


@pytest.mark.parametrize(
    "bar",
    [
        "Map: 100%|██████████| 64/64 [00:00<00:00, 980.12 examples/s]",
        "Loading checkpoint shards: 50%|#####     | 1/2 [00:01<00:01,  1.00s/it]",
        "Writing model shards: 100%|██████████| 1/1 [00:00<00:00, 46.12it/s]",
    ],
)
def test_other_bars_are_bars_but_not_training_progress(bar):
    assert split_bar(bar) is not None
    assert from_bar(bar) is None


def test_a_nested_bar_is_not_training_progress():
    assert from_bar(" 50%|#####     | 1/2 [00:00<00:00]", nested=True) is None


def test_it_splits_a_log_line_written_onto_the_bar():
    text = " 83%|████████  | 10/12 [00:00<00:00, 48.63it/s][INFO|trainer.py:4071] >> Saving model checkpoint to out"
    assert split_bar(text) == (
        " 83%|████████  | 10/12 [00:00<00:00, 48.63it/s]",
        "[INFO|trainer.py:4071] >> Saving model checkpoint to out",
    )
    assert split_bar("Map: 1234it [00:01, 980.5it/s]") == ("Map: 1234it [00:01, 980.5it/s]", "")
    assert split_bar("loss 45%| of the way") is None
    assert split_bar("plain line") is None


def test_it_reads_a_llamafactory_record():
    record = {
        "current_steps": 10,
        "total_steps": 40,
        "loss": 1.5,
        "lr": 2e-5,
        "epoch": 0.25,
        "percentage": 25.0,
        "elapsed_time": "0:00:10",
        "remaining_time": "0:00:30",
        "throughput": 812.5,
    }

    progress, samples = from_llamafactory_record(record)

    assert progress == StepProgress(10, 40, 30)
    assert set(samples) == {
        MetricSample("train/loss", 10, 1.5),
        MetricSample("train/learning_rate", 10, 2e-5),
        MetricSample("train/epoch", 10, 0.25),
        MetricSample("train/throughput", 10, 812.5),
    }


def test_it_reads_a_llamafactory_eval_record():
    _, samples = from_llamafactory_record({"current_steps": 20, "total_steps": 40, "eval_loss": 1.1, "epoch": 0.5})
    assert samples == [MetricSample("eval/loss", 20, 1.1)]


def test_a_llamafactory_record_without_steps_gives_nothing():
    assert from_llamafactory_record({"loss": 1.0}) == (None, [])


def test_it_reads_a_trainer_state():
    state = {
        "global_step": 30,
        "max_steps": 90,
        "log_history": [
            {"loss": 2.0, "learning_rate": 1e-3, "grad_norm": 0.5, "epoch": 0.3, "step": 10},
            {"eval_loss": 1.9, "eval_runtime": 0.4, "epoch": 0.6, "step": 20},
            {"train_runtime": 12.5, "train_loss": 1.7, "total_flos": 1e9, "epoch": 1.0, "step": 30},
        ],
    }

    progress, samples = from_trainer_state(state)

    assert progress == StepProgress(30, 90)
    assert set(samples) == {
        MetricSample("train/loss", 10, 2.0),
        MetricSample("train/learning_rate", 10, 1e-3),
        MetricSample("train/grad_norm", 10, 0.5),
        MetricSample("train/epoch", 10, 0.3),
        MetricSample("eval/loss", 20, 1.9),
        MetricSample("eval/runtime", 20, 0.4),
        MetricSample("summary/runtime", 30, 12.5),
        MetricSample("summary/loss", 30, 1.7),
    }


def test_it_reads_a_metrics_jsonl_record():
    progress, samples = from_metrics_record({"step": 7, "total_steps": 70, "loss": "0.5", "reward/mean": 0.9})
    assert progress == StepProgress(7, 70)
    assert set(samples) == {MetricSample("train/loss", 7, 0.5), MetricSample("reward/mean", 7, 0.9)}
    assert from_metrics_record({"loss": 1.0}) == (None, [])
    assert from_metrics_record({"global_step": 3, "kl_divergence": 0.1})[1] == [
        MetricSample("train/kl_divergence", 3, 0.1)
    ]


def test_furthest_prefers_readings_that_know_their_total():
    assert furthest([StepProgress(50), StepProgress(40, 100), None]) == StepProgress(40, 100)
    assert furthest([StepProgress(50), StepProgress(60)]) == StepProgress(60)
    assert furthest([None]) is None
