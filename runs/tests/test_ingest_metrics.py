"""runs.ingest.metrics: naming, printed log dicts, storing points (last write wins)."""

from __future__ import annotations

import pytest

from runs.ingest.metrics import MetricSample, merge_latest, metric_name, parse_log_dict, samples_from_dict, store_points
from runs.ingest.times import as_datetime
from runs.models import MetricPoint
from runs.tests.ingest_support import make_run


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("loss", "train/loss"),
        ("learning_rate", "train/learning_rate"),
        ("eval_loss", "eval/loss"),
        ("eval_rougeL", "eval/rougeL"),
        ("test_accuracy", "test/accuracy"),
        ("predict_loss", "test/loss"),
        ("train_tokens_per_second", "train/tokens_per_second"),
        ("rewards/chosen", "rewards/chosen"),
    ],
)
def test_it_names_metrics_one_way_whatever_the_source(key, name):
    assert metric_name(key) == name


def test_it_parses_the_dicts_transformers_5_prints_with_string_values():
    logged = parse_log_dict("{'loss': '5.767', 'grad_norm': '1.234', 'learning_rate': '0.0009687', 'epoch': '0.125'}")
    assert logged is not None

    assert samples_from_dict(logged, step=8) == [
        MetricSample("train/loss", 8, 5.767),
        MetricSample("train/grad_norm", 8, 1.234),
        MetricSample("train/learning_rate", 8, 0.0009687),
        MetricSample("train/epoch", 8, 0.125),
    ]


def test_eval_dicts_become_eval_points_and_the_summary_does_not_overwrite_the_loss():
    evaluation = parse_log_dict("{'eval_loss': 1.25, 'eval_runtime': 0.5, 'epoch': 1.0}")
    summary = parse_log_dict("{'train_runtime': '16.46', 'train_loss': '5.988', 'epoch': '3'}")
    assert evaluation is not None and summary is not None

    assert samples_from_dict(evaluation, step=20) == [
        MetricSample("eval/loss", 20, 1.25),
        MetricSample("eval/runtime", 20, 0.5),
    ]
    assert samples_from_dict(summary, step=21) == [
        MetricSample("summary/runtime", 21, 16.46),
        MetricSample("summary/loss", 21, 5.988),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "{'model_type': 'llama', 'hidden_size': 32}",  # a config dump, not a training log
        "{'loss': __import__('os').system('true')}",  # never evaluated
        "{broken",
        "not a dict",
        "{1: 'loss'}",
    ],
)
def test_it_ignores_what_is_not_a_training_log_dict(line):
    assert parse_log_dict(line) is None


def test_it_skips_values_that_are_not_finite_numbers():
    logged = {"loss": "nan", "grad_norm": float("inf"), "learning_rate": "n/a", "epoch": True, "ok": 1}
    assert samples_from_dict(logged, step=1) == [MetricSample("train/ok", 1, 1.0)]


def test_merge_latest_keeps_the_value_at_the_highest_step():
    values, steps = {"train/loss": 1.0}, {"train/loss": 30}
    merge_latest(
        [MetricSample("train/loss", 10, 9.0), MetricSample("train/loss", 40, 0.5), MetricSample("eval/loss", 5, 2.0)],
        values=values,
        steps=steps,
    )
    assert values == {"train/loss": 0.5, "eval/loss": 2.0}
    assert steps == {"train/loss": 40, "eval/loss": 5}


@pytest.mark.django_db
def test_store_points_upserts_and_the_last_write_for_a_step_wins():
    run = make_run()
    store_points(run.pk, [MetricSample("train/loss", 10, 2.0), MetricSample("train/loss", 10, 1.9)], at=run.created_at)
    store_points(run.pk, [MetricSample("train/loss", 10, 1.8), MetricSample("train/loss", 20, 1.5)], at=run.created_at)

    assert list(MetricPoint.objects.filter(run=run).values_list("step", "value")) == [(10, 1.8), (20, 1.5)]


@pytest.mark.django_db
def test_store_points_keeps_the_trainers_time_of_the_write_that_wins():
    run = make_run()
    read_at = run.created_at
    store_points(run.pk, [MetricSample("train/loss", 10, 2.0, at=1_750_000_000.25)], at=read_at)
    store_points(
        run.pk,
        [MetricSample("train/loss", 10, 1.8, at=1_750_000_060.5), MetricSample("eval/loss", 10, 1.9)],
        at=read_at,
    )

    assert list(MetricPoint.objects.filter(run=run).order_by("name").values_list("name", "value", "timestamp")) == [
        ("eval/loss", 1.9, read_at),
        ("train/loss", 1.8, as_datetime(1_750_000_060.5)),
    ]
