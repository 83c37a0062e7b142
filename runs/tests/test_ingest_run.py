"""ingest_run end to end on real files: log lines, levels, bars, metrics, progress, restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runs.ingest import ingest_run
from runs.models import LogLine, MetricPoint, Run
from runs.tests.ingest_support import append, log_path, make_run

pytestmark = pytest.mark.django_db


def messages(run: Run) -> list[tuple[int, str, str]]:
    return list(LogLine.objects.filter(run=run).order_by("seq").values_list("seq", "level", "message"))


def test_it_stores_complete_lines_in_order_and_keeps_the_partial_one_for_later():
    run = make_run()
    append(log_path(run), "INFO:root:loading model\nWARNING: low memory\nhalf a li")

    ingest_run(run)

    assert messages(run) == [(1, "INFO", "INFO:root:loading model"), (2, "WARNING", "WARNING: low memory")]
    assert run.next_log_seq == 3
    assert run.log_offset == len(b"INFO:root:loading model\nWARNING: low memory\n")
    append(log_path(run), "ne\n")
    ingest_run(run)
    assert messages(run)[-1] == (3, "INFO", "half a line")
    stored = Run.objects.get(pk=run.pk)
    assert (stored.log_offset, stored.next_log_seq) == (run.log_offset, 4)


def test_it_flushes_the_last_line_without_newline_when_final():
    run = make_run()
    append(log_path(run), "done\nexit without newline")

    ingest_run(run, final=True)

    assert [message for _, _, message in messages(run)] == ["done", "exit without newline"]


def test_it_keeps_one_row_per_progress_bar_with_its_last_redraw():
    run = make_run(total_steps=None)
    bar = "\r{pct:3d}%|#   | {n}/20 [00:0{n}<00:10, 2.00it/s]"
    append(log_path(run), "start\n" + "".join(bar.format(pct=n * 5, n=n) for n in range(1, 6)))
    ingest_run(run)
    append(log_path(run), "".join(bar.format(pct=n * 5, n=n) for n in range(6, 9)) + "\r")
    ingest_run(run)
    append(
        log_path(run), "\r      \r{'loss': '1.5', 'learning_rate': '1e-05', 'epoch': '0.4'}\n" + bar.format(pct=40, n=8)
    )
    ingest_run(run)

    rows = messages(run)
    assert [message for _, _, message in rows] == [
        "start",
        " 40%|#   | 8/20 [00:08<00:10, 2.00it/s]",
        "{'loss': '1.5', 'learning_rate': '1e-05', 'epoch': '0.4'}",
    ]
    run.refresh_from_db()
    assert (run.current_step, run.total_steps) == (8, 20)
    assert run.progress == pytest.approx(0.4)
    assert run.eta_seconds == 10
    point = MetricPoint.objects.get(run=run, name="train/loss")
    assert (point.step, point.value) == (8, 1.5)
    assert run.metrics["train/learning_rate"] == 1e-05


def test_it_marks_a_whole_traceback_as_error():
    run = make_run()
    append(
        log_path(run),
        'step 3\nTraceback (most recent call last):\n  File "train.py", line 3, in <module>\n'
        "    main()\nRuntimeError: CUDA out of memory\nafter\n",
    )
    ingest_run(run)
    assert [level for _, level, _ in messages(run)] == ["INFO", "ERROR", "ERROR", "ERROR", "ERROR", "INFO"]


def test_it_reads_llamafactory_trainer_log_for_progress_eta_and_metrics():
    run = make_run()
    record = {
        "current_steps": 30,
        "total_steps": 120,
        "loss": 2.25,
        "lr": 4e-05,
        "epoch": 0.5,
        "percentage": 25.0,
        "elapsed_time": "0:01:00",
        "remaining_time": "0:03:05",
    }
    append(Path(run.output_dir) / "trainer_log.jsonl", json.dumps(record) + "\n")

    ingest_run(run)

    assert (run.current_step, run.total_steps, run.eta_seconds) == (30, 120, 185)
    assert run.progress == pytest.approx(0.25)
    points = dict(MetricPoint.objects.filter(run=run, step=30).values_list("name", "value"))
    assert points == {"train/loss": 2.25, "train/learning_rate": 4e-05, "train/epoch": 0.5}


def test_it_deduplicates_steps_a_resumed_trainer_logs_again():
    run = make_run()
    metrics_file = Path(run.output_dir) / "metrics.jsonl"
    append(metrics_file, '{"step": 10, "loss": 2.0}\n{"step": 20, "loss": 1.5}\n')
    ingest_run(run)
    append(metrics_file, '{"step": 20, "loss": 1.4}\n{"step": 30, "loss": 1.2}\n')
    ingest_run(run)

    assert list(MetricPoint.objects.filter(run=run, name="train/loss").values_list("step", "value")) == [
        (10, 2.0),
        (20, 1.4),
        (30, 1.2),
    ]
    assert run.metrics["train/loss"] == 1.2


def test_it_keeps_progress_between_the_launch_floor_and_below_one():
    run = make_run()
    append(Path(run.output_dir) / "metrics.jsonl", '{"step": 1, "total_steps": 100, "loss": 3.0}\n')
    ingest_run(run)
    assert run.progress == 0.05
    append(Path(run.output_dir) / "metrics.jsonl", '{"step": 100, "total_steps": 100, "loss": 1.0}\n')
    ingest_run(run)
    assert 0.9 < run.progress < 1.0
    assert Run.objects.get(pk=run.pk).status == "running"


def test_it_loses_and_duplicates_nothing_when_a_pass_is_repeated_from_stale_state():
    """A supervisor killed after committing but before it knew: a stale Run instance retries."""
    run = make_run()
    append(log_path(run), "one\ntwo\n")
    stale = Run.objects.get(pk=run.pk)
    ingest_run(run)
    append(log_path(run), "three\n")

    ingest_run(stale)  # loses the race on the stored offset, then catches up from the database
    ingest_run(stale)

    assert [message for _, _, message in messages(run)] == ["one", "two", "three"]


def test_a_pass_killed_mid_transaction_leaves_nothing_and_the_next_stores_each_line_once(monkeypatch):
    run = make_run()
    append(log_path(run), "one\n{'loss': '2.0', 'epoch': '0.1'}\n 10%|#   | 10/100 [00:01<00:09, 9.00it/s]\r")

    def crash(*args, **kwargs):
        raise RuntimeError("supervisor killed")

    monkeypatch.setattr("runs.ingest.pipeline.store_points", crash)
    with pytest.raises(RuntimeError):
        ingest_run(run)
    assert LogLine.objects.filter(run=run).count() == 0
    assert Run.objects.get(pk=run.pk).log_offset == 0 and run.log_offset == 0

    monkeypatch.undo()
    restarted = Run.objects.get(pk=run.pk)
    ingest_run(restarted)
    ingest_run(restarted)

    assert [message for _, _, message in messages(run)] == [
        "one",
        "{'loss': '2.0', 'epoch': '0.1'}",
        " 10%|#   | 10/100 [00:01<00:09, 9.00it/s]",
    ]
    assert MetricPoint.objects.get(run=run, name="train/loss").step == 10


def test_printed_dicts_without_a_training_bar_give_no_guessed_steps():
    run = make_run()
    append(Path(run.output_dir) / "metrics.jsonl", '{"step": 50, "total_steps": 100, "loss": 1.0}\n')
    append(log_path(run), "{'loss': '0.9', 'learning_rate': '1e-05', 'epoch': '0.6'}\n")

    ingest_run(run)

    assert list(MetricPoint.objects.filter(run=run, name="train/loss").values_list("step", "value")) == [(50, 1.0)]


def test_a_pass_with_nothing_new_writes_nothing(django_assert_num_queries):
    run = make_run()
    append(log_path(run), "one\n")
    append(Path(run.output_dir) / "metrics.jsonl", '{"step": 5, "total_steps": 50, "loss": 2.0}\n')
    ingest_run(run)
    append(Path(run.output_dir) / "metrics.jsonl", '{"step": 10, "total_steps": 50, "loss": 1.0}\n')
    ingest_run(run)
    assert run.eta_seconds is not None, "estimated from the step rate"

    with django_assert_num_queries(0):
        ingest_run(run)


def test_it_keeps_gpu_utilisation_per_step_for_the_chart(monkeypatch):
    """NVML cannot run here (no GPU): the reading itself is stood in for, the rest is real."""
    monkeypatch.setattr("runs.ingest.pipeline.utilization_of", lambda indices: 0.75 if indices == [0] else None)
    run = make_run()
    Run.objects.filter(pk=run.pk).update(gpu_indices=[0])
    run.refresh_from_db()
    append(log_path(run), " 10%|#         | 5/50 [00:01<00:09,  5.00it/s]\n")

    ingest_run(run)
    ingest_run(run)  # same step again: no second point, no write

    points = list(MetricPoint.objects.filter(run=run, name="gpu/utilization").values_list("step", "value"))
    assert points == [(5, 0.75)]
    assert Run.objects.get(pk=run.pk).gpu_utilization == 0.75


def test_a_printed_dict_read_before_its_bar_redraw_waits_for_it():
    """tqdm throttles its redraws, so the last bar drawn before a logged loss can be steps
    behind; the redraw right after the dict (tqdm.write) is the step it belongs to."""
    run = make_run()
    append(log_path(run), "  0%|          | 0/60 [00:00<?, ?it/s]\r{'loss': '2.0', 'epoch': '0.1'}\n")
    ingest_run(run)  # the pass came between the dict and the redraw after it
    assert not MetricPoint.objects.filter(run=run, name="train/loss").exists()

    append(log_path(run), "  8%|8         | 5/60 [00:01<00:11, 5.00it/s]\r")
    ingest_run(run)

    assert list(MetricPoint.objects.filter(run=run, name="train/loss").values_list("step", "value")) == [(5, 2.0)]


def test_a_dict_still_waiting_when_the_trainer_ends_takes_the_last_bar_seen():
    run = make_run()
    append(log_path(run), "  8%|8         | 5/60 [00:01<00:11, 5.00it/s]\r{'loss': '2.0', 'epoch': '0.1'}\n")
    ingest_run(run)

    ingest_run(run, final=True)

    assert list(MetricPoint.objects.filter(run=run, name="train/loss").values_list("step", "value")) == [(5, 2.0)]
