"""Log lines and metric points keep the time the trainer wrote them, even when they are read much later.

A supervisor killed with SIGKILL mid-run reads, once restarted, seconds of lines at
once: each must still carry the trainer's time, not the time of the catch-up.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from llmplatform.testing import wait_for
from runs.ingest import ingest_run
from runs.ingest.logfile import read_chunk
from runs.ingest.logstream import LogStream
from runs.ingest.times import ElapsedClock, StepTimes, as_datetime, prefix_time
from runs.models import LogLine, MetricPoint, Run
from runs.tests.ingest_support import append, log_path, make_run
from runs.tests.test_supervisor import supervise_command

LLAMAFACTORY_PREFIX = re.compile(r"^\[(INFO|WARNING)\|")
STARTED = "2025-06-01T12:00:00Z training started\n"
TEN_SECONDS_LATER = "2025-06-01T12:00:10Z saving checkpoint-100\n"


class Log:
    """A log file read pass after pass as the pipeline reads it; each line stamped as a float."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0
        self.state: dict[str, Any] = {}

    def write(self, text: str, *, modified: float) -> None:
        append(self.path, text)
        os.utime(self.path, (modified, modified))

    def read(self, loss_times: dict[int, float] | None = None) -> dict[str, float]:
        """A new reader each time, as after a restart: only `state` and the offset carry over.
        `loss_times`: when the trainer's records say it wrote each step's loss."""
        stream = LogStream(next_seq=0, state=self.state, run_value=None, to_db=float, since=0.0)
        chunk = read_chunk(self.path, self.offset, final=False, max_bytes=1 << 20)
        self.offset = chunk.end_offset
        return {row[4]: row[2] for row in stream.feed(chunk, loss_time=(loss_times or {}).get).rows}

    def end_of(self, line: str) -> int:
        """Where `line` ends in the file."""
        data = self.path.read_bytes()
        return data.index(line.encode()) + len(line) + 1


@pytest.mark.parametrize(
    ("line", "written"),
    [
        ("[INFO|2025-06-01 12:34:56] llamafactory.hparams.parser:143 >> Process rank: 0", "2025-06-01 12:34:56"),
        ("2025-06-01 12:34:56,250 - INFO - __main__ - Training", "2025-06-01 12:34:56.250"),
        ("06/01/2025 12:34:56 - INFO - __main__ - Training", "2025-06-01 12:34:56"),
        ("INFO: [platform] 2025-06-01 12:34:56 Training started", "2025-06-01 12:34:56"),
        # transformers' explicit format, which LLaMA-Factory turns on for transformers' own loggers
        ("[INFO|trainer.py:2345] 2025-06-01 12:34:56,250 >> ***** Running training *****", "2025-06-01 12:34:56.250"),
        ("[WARNING|logging.py:328] 2025-06-01 12:34:56,250 >> use_cache=True", "2025-06-01 12:34:56.250"),
        ("[rank0]: 2025-06-01T12:34:56Z step 3", None),
    ],
)
def test_it_reads_the_time_in_a_log_lines_prefix(line, written):
    expected = (
        datetime.fromisoformat(written).timestamp()
        if written
        else datetime.fromisoformat("2025-06-01T12:34:56+00:00").timestamp()
    )

    assert prefix_time(line) == pytest.approx(expected)


@pytest.mark.parametrize(
    "line",
    [
        "{'loss': '1.2', 'epoch': '0.5'}",
        " 45%|████▌     | 9/20",
        "Epoch 2025-13-45 00:00:00",
        "[INFO|trainer.py:2345] >> ***** Running training *****",
        "",
    ],
)
def test_a_line_without_a_time_has_none(line):
    assert prefix_time(line) is None


def test_it_dates_lines_between_two_timed_lines_in_proportion_to_the_bytes_between_them(tmp_path):
    log = Log(tmp_path / "train.log")
    started = prefix_time(STARTED) or 0.0
    log.write(STARTED + "{'loss': '2.0'}\n" + "x" * 100 + "\n" + TEN_SECONDS_LATER, modified=started + 60)

    times = log.read()

    low, high = log.end_of(STARTED.strip()), log.end_of(TEN_SECONDS_LATER.strip())
    share = [(log.end_of(line) - low) / (high - low) for line in ("{'loss': '2.0'}", "x" * 100)]
    assert times["{'loss': '2.0'}"] == pytest.approx(started + 10 * share[0])
    assert times["x" * 100] == pytest.approx(started + 10 * share[1])
    assert times[TEN_SECONDS_LATER.strip()] == started + 10


def test_it_spreads_lines_after_the_last_timed_line_up_to_the_files_modification_time(tmp_path):
    log = Log(tmp_path / "train.log")
    started = prefix_time(STARTED) or 0.0
    log.write(STARTED + "a warning\n" + " 50%|#####     | 5/10\n", modified=started + 4)

    times = log.read()

    low, size = log.end_of(STARTED.strip()), log.path.stat().st_size
    assert times["a warning"] == pytest.approx(started + 4 * (log.end_of("a warning") - low) / (size - low))
    assert times[" 50%|#####     | 5/10"] == pytest.approx(started + 4)


def test_it_dates_a_line_read_after_a_restart_between_the_last_time_known_before_and_the_next_after(tmp_path):
    log = Log(tmp_path / "train.log")
    started = prefix_time(STARTED) or 0.0
    log.write(STARTED + "before the restart\n", modified=started + 1)
    log.read()
    first_read_ended = log.path.stat().st_size
    # Nothing read the next lines as they came; the next pass reads them at once, much later.
    log.write("unwatched\n" + TEN_SECONDS_LATER, modified=started + 10)

    times = log.read()

    share = (log.end_of("unwatched") - first_read_ended) / (log.end_of(TEN_SECONDS_LATER.strip()) - first_read_ended)
    assert times["unwatched"] == pytest.approx(started + 1 + 9 * share)


def test_it_holds_a_loss_dated_by_its_record_to_the_logs_modification_time(tmp_path):
    """A record's time is good to its second; the log file was not written after its modification time."""
    log = Log(tmp_path / "train.log")
    started = prefix_time(STARTED) or 0.0
    log.write(STARTED + "{'loss': '2.0'}\n" + "  8%|8         | 5/60\n", modified=started + 3)

    times = log.read(loss_times={5: started + 3.4})

    assert times["{'loss': '2.0'}"] == pytest.approx(started + 3)


@pytest.mark.django_db
def test_it_gives_a_metric_point_printed_without_a_time_its_trainer_log_jsonl_time():
    started = prefix_time(STARTED) or 0.0
    run = make_run(started_at=as_datetime(started - 1))
    records = Path(run.output_dir) / "trainer_log.jsonl"
    append(log_path(run), STARTED + "  0%|          | 0/60 [00:00<?, ?it/s]\r")
    os.utime(log_path(run), (started + 1, started + 1))
    append(records, json.dumps({"current_steps": 5, "total_steps": 60, "loss": 2.0, "elapsed_time": "0:00:05"}) + "\n")
    os.utime(records, (started + 10, started + 10))  # written 5 s after its training began, at started + 10
    ingest_run(run)
    # The loss printed for step 5 is read a pass after its record, with a redraw at step 5 and a line after it.
    append(log_path(run), "{'loss': '2.0', 'epoch': '0.1'}\n  8%|8         | 5/60 [00:01<00:11, 5.00it/s]\nsaved\n")
    os.utime(log_path(run), (started + 12, started + 12))

    ingest_run(run)

    point = MetricPoint.objects.get(run=run, name="train/loss", step=5)
    assert point.timestamp.timestamp() == pytest.approx(started + 10)
    lines = dict(LogLine.objects.filter(run=run).values_list("message", "timestamp"))
    assert lines["{'loss': '2.0', 'epoch': '0.1'}"].timestamp() == pytest.approx(started + 10)
    assert started + 10 < lines["saved"].timestamp() <= started + 12


@pytest.mark.django_db
def test_it_dates_a_printed_loss_by_its_own_record_not_by_its_steps_evaluation_after_it():
    started = prefix_time(STARTED) or 0.0
    run = make_run(started_at=as_datetime(started - 1))
    records = Path(run.output_dir) / "trainer_log.jsonl"
    for record in ({"loss": 2.0, "elapsed_time": "0:00:05"}, {"eval_loss": 2.5, "elapsed_time": "0:00:09"}):
        append(records, json.dumps({"current_steps": 5, "total_steps": 60, **record}) + "\n")
    os.utime(records, (started + 14, started + 14))  # the evaluation's record, written 9 s after training began
    bar = "  8%|8         | 5/60 [00:01<00:11, 5.00it/s]\n"
    append(log_path(run), STARTED + "{'loss': '2.0', 'epoch': '0.1'}\n" + bar + "{'eval_loss': '2.5'}\n" + bar)
    os.utime(log_path(run), (started + 15, started + 15))

    ingest_run(run)

    lines = dict(LogLine.objects.filter(run=run).values_list("message", "timestamp"))
    assert lines["{'loss': '2.0', 'epoch': '0.1'}"].timestamp() == pytest.approx(started + 10)
    assert started + 10 < lines["{'eval_loss': '2.5'}"].timestamp() < started + 15


def test_llamafactorys_whole_elapsed_seconds_date_each_record_within_half_a_second():
    began = 1_000.0
    written = [0.2, 1.9, 3.5, 4.05, 5.7, 6.95]  # seconds after the beginning; the records say 0, 1, 3, 4, 5, 6
    clock = ElapsedClock({})
    for seconds in written:
        clock.observe(last_elapsed=int(seconds), modified=began + seconds)

    off = [(clock.at(int(seconds)) or 0.0) - (began + seconds) for seconds in written]

    assert off == pytest.approx([0.3, -0.4, 0.0, 0.45, -0.2, -0.45], abs=0.01)


def test_a_reading_of_a_file_that_grew_meanwhile_moves_the_dates_by_half_a_second_at_most():
    clock = ElapsedClock({})
    clock.observe(last_elapsed=3, modified=1_003.0)
    clock.observe(last_elapsed=4, modified=1_009.0)  # read 5 s after the record it took for the last

    assert clock.at(0) == pytest.approx(1_000.5)


def test_a_steps_time_from_llamafactorys_dated_record_stands_against_any_sighting():
    times = StepTimes({})
    times.learn(100, 50.0)  # the bar reached it, dated by spreading the log's bytes over a catch-up
    times.learn(100, 53.5, dated=True)  # trainer_log.jsonl: when the trainer wrote it
    times.learn(100, 49.0)  # its printed loss, stamped a pass later
    times.learn(90, 48.0)

    assert (times.at(100), times.at(90)) == (53.5, 48.0)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_line_and_point_keeps_the_trainers_time_across_a_supervisor_killed_mid_run(
    owner_client, project, fake_trainer, settings, tmp_path
):
    first = supervise_command(settings, tmp_path, "first")
    second = None
    try:
        wait_for(lambda: "started" in (tmp_path / "first.log").read_text(), timeout=60)
        hyperparameters = {"max_steps": 150, "step_seconds": 0.04, "logging_steps": 5, "save_steps": 50}
        response = owner_client.post(
            f"/projects/{project.name}/runs", {"hyperparameters": {**hyperparameters, "log_times": True}}, format="json"
        )
        run = Run.objects.get(pk=response.json()["id"])
        written_at = Path(run.output_dir) / "written_at.jsonl"
        wait_for(lambda: MetricPoint.objects.filter(run=run, name="train/loss").count() >= 2, timeout=30)
        first.kill()  # kill -9 mid-run
        first.wait()
        killed = time.time()

        def printed_after_the_kill() -> bool:
            lines = written_at.read_text().splitlines()
            return bool(lines) and json.loads(lines[-1])["time"] > killed + 2.5

        wait_for(printed_after_the_kill, timeout=30, what="the trainer to go on printing for seconds unwatched")
        second = supervise_command(settings, tmp_path, "second")
        wait_for(lambda: Run.objects.get(pk=run.pk).status == "completed", timeout=60)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()

    printed = {record["step"]: record["time"] for record in map(json.loads, written_at.read_text().splitlines())}
    assert max(printed.values()) - min(printed.values()) > 4, "the run lasted seconds"
    points = dict(MetricPoint.objects.filter(run=run, name="train/loss").values_list("step", "timestamp"))
    assert sorted(points) == sorted(printed)
    late = {
        step: points[step].timestamp() - printed[step]
        for step in points
        if abs(points[step].timestamp() - printed[step]) > 1
    }
    assert late == {}, "points stamped more than a second away from when the trainer wrote them"

    lines = list(LogLine.objects.filter(run=run).order_by("seq").values_list("message", "timestamp"))
    prefixed = [(message, stamp) for message, stamp in lines if LLAMAFACTORY_PREFIX.match(message)]
    assert len(prefixed) > 5
    assert [message for message, stamp in prefixed if stamp.timestamp() != prefix_time(message)] == []
    dicts = [stamp for message, stamp in lines if message.startswith("{'loss'")]
    assert len(dicts) == len(printed)
    off = [round(stamp.timestamp() - when, 2) for stamp, when in zip(dicts, printed.values(), strict=True)]
    assert [gap for gap in off if abs(gap) > 1] == [], "printed dicts stamped a second or more away"
