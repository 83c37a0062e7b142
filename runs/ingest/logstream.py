"""Turning log lines into LogLine rows, and the progress and metrics printed among them.

Consecutive redraws of tqdm bars share one row, rewritten with the newest redraw,
so a bar shows up live without flooding the table. A printed Hugging Face log dict
carries no step: it gets the step of the training bar redrawn right after it
(`tqdm.write` redraws the bar at once). A pass that reads the dict before that redraw
is written keeps it waiting for the next pass; the last bar seen then is tqdm's
throttled one, often steps behind. Only the final pass, with no redraw to come,
gives waiting dicts the last bar's step. Without any training bar (`disable_tqdm`)
printed dicts give no points: their step would be a guess, and `trainer_state.json`
brings the exact history at each checkpoint.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from runs.ingest.levels import LevelClassifier
from runs.ingest.logfile import LogChunk
from runs.ingest.metrics import MetricSample, parse_log_dict, samples_from_dict
from runs.ingest.progress import StepProgress, from_bar, split_bar
from runs.ingest.times import Timeline, as_datetime, prefix_time
from runs.models import LogLevel, LogLine

# Printed dicts kept for the next pass at most (a trainer prints one per logging step).
MAX_WAITING_DICTS = 100


@dataclass
class LogBatch:
    rows: list[list] = field(default_factory=list)  # [run, seq, timestamp, level, message], see `row_constants`
    bar_rewrite: tuple[int, str] | None = None  # (seq, text): a bar row from an earlier pass redrew
    samples: list[MetricSample] = field(default_factory=list)
    bar: StepProgress | None = None  # the training bar's latest reading
    reached: list[tuple[int, float]] = field(default_factory=list)  # (step, when the bar showed it)


def _undated(step: int) -> float | None:
    return None


class LogStream:
    """Reads chunks one after another; `state` (a part of `Run.ingest_state`) carries over.

    Each line is stamped with the time in its prefix; a printed loss dict with the time its step's
    record gives (`loss_time`, LLaMA-Factory's `trainer_log.jsonl`); any other line with a time
    interpolated by its byte position between those around it, up to the log file's modification
    time after the last (runs.ingest.times.Timeline), from `since` (when the run started) on the first.
    """

    def __init__(
        self, *, next_seq: int, state: dict[str, Any], run_value: Any, to_db: Callable[[float], Any], since: float
    ) -> None:
        self.next_seq = next_seq
        self.state = state
        self.run_value, self.to_db = run_value, to_db
        self.since = since
        self.levels = LevelClassifier(in_traceback=bool(state.get("traceback")))

    def feed(
        self, chunk: LogChunk, *, final: bool = False, loss_time: Callable[[int], float | None] = _undated
    ) -> LogBatch:
        """`loss_time(step)`: when the trainer wrote `step`'s training loss, where its own record said so."""
        batch = LogBatch()
        bar_row: list | None = None  # the row of an open bar created in this batch
        bar_seq: int | None = self.state.get("bar_seq")
        # Printed dicts waiting for their step, some maybe from the previous pass: each
        # [dict, when printed, None] from there, [dict, None, where it ends in the file] from this chunk.
        # A state saved before times were kept holds bare dicts.
        waiting: list[list[Any]] = [
            [*item, None] if isinstance(item, list) else [item, None, None] for item in self.state.pop("waiting", [])
        ]
        stamped: list[tuple[list[Any], int]] = []  # (a waiting dict, its step), dated once the chunk is read
        reached: list[tuple[int, float]] = []  # (step, where the bar showed it)

        timeline = Timeline(self.state, start=chunk.start_offset, since=self.since)
        nested = chunk.nested
        ends = _line_ends(chunk)
        # Rows without a time of their own, and where each ends: dated once the whole chunk is read.
        untimed: list[list] = []
        untimed_ends: list[float] = []
        # The loop runs once per log line: locals instead of attribute lookups.
        append, classify, next_seq = batch.rows.append, self.levels.classify, self.next_seq
        run_value, to_db = self.run_value, self.to_db
        for index, text in enumerate(chunk.lines):
            if ("%|" in text or "it [" in text) and (parts := split_bar(text)) is not None:
                bar_text, text = parts
                if reading := from_bar(bar_text, nested=index in nested):
                    batch.bar = reading
                    reached.append((reading.current, ends[index]))
                    stamped.extend(self._stamp(waiting, reading.current, timeline, loss_time))
                    waiting = []
                if bar_row is not None:
                    bar_row[4] = bar_text
                elif bar_seq is not None:
                    batch.bar_rewrite = (bar_seq, bar_text)
                else:
                    bar_row = [run_value, next_seq, None, LogLevel.INFO, bar_text]
                    append(bar_row)
                    untimed.append(bar_row)
                    untimed_ends.append(ends[index])
                    bar_seq, next_seq = next_seq, next_seq + 1
                if not text:
                    continue
            bar_row = bar_seq = None
            row = [run_value, next_seq, None, classify(text), text]
            if (prefixed := prefix_time(text)) is not None:  # the line's own time
                row[2] = to_db(prefixed)
                timeline.add(ends[index], prefixed)
            else:
                untimed.append(row)
                untimed_ends.append(ends[index])
                if text[0] == "{" and (logged := parse_log_dict(text)) is not None:
                    waiting.append([logged, None, ends[index]])
            append(row)
            next_seq += 1

        self.next_seq = next_seq
        tail = chunk.tail
        if tail and (parts := split_bar(tail)) and (reading := from_bar(parts[0], nested=chunk.tail_nested)):
            batch.bar = reading
            reached.append((reading.current, float(chunk.file_size)))
            stamped.extend(self._stamp(waiting, reading.current, timeline, loss_time))
            waiting = []
        last_step = batch.bar.current if batch.bar else self.state.get("bar_step")
        if waiting and last_step is not None and final:
            stamped.extend(self._stamp(waiting, last_step, timeline, loss_time))
            waiting = []

        timeline.close(size=chunk.file_size, modified=chunk.modified, end=chunk.end_offset)
        for row, written in zip(untimed, timeline.times_at(untimed_ends), strict=True):
            row[2] = to_db(written)
        batch.reached = [(step, timeline.at(end)) for step, end in reached]
        for (logged, at, end), step in stamped:
            written = at if end is None else timeline.at(end)
            batch.samples.extend(samples_from_dict(logged, step=step, at=written))
        if waiting and last_step is not None:
            kept = waiting[-MAX_WAITING_DICTS:]
            self.state["waiting"] = [[logged, at if end is None else timeline.at(end)] for logged, at, end in kept]

        self.state["bar_seq"] = bar_seq
        self.state["traceback"] = self.levels.in_traceback
        if batch.bar is not None:
            self.state["bar_step"] = batch.bar.current
        return batch

    @staticmethod
    def _stamp(
        dicts: list[list[Any]], step: int, timeline: Timeline, loss_time: Callable[[int], float | None]
    ) -> list[tuple[list[Any], int]]:
        """Printed dicts ([dict, when printed, where it ends]) at the step the bar showed next.

        A step's one loss dict read in this chunk is a known point at the time its record gives; of
        several dicts, which one the bar's step is of is not known.
        """
        printed, _, end = dicts[0] if len(dicts) == 1 else ({}, None, None)
        if end is not None and "loss" in printed and (written := loss_time(step)) is not None:
            timeline.add(end, written)
        return [(item, step) for item in dicts]


def _line_ends(chunk: LogChunk) -> list[float]:
    """Where in the file each line of `chunk` ends: its characters and terminator, in proportion to the bytes read."""
    lengths = list(itertools.accumulate(len(line) + 1 for line in chunk.lines))
    if not lengths:
        return []
    start, scale = chunk.start_offset, (chunk.end_offset - chunk.start_offset) / lengths[-1]
    return [start + length * scale for length in lengths]


def row_constants(run_id: Any) -> tuple[Any, Callable[[float], Any]]:
    """The run column of a pass's rows and how a time becomes a timestamp column, as `store_lines`
    hands them to the driver."""
    if connection.vendor == "postgresql":
        return run_id, as_datetime  # COPY adapts Python values itself
    meta = LogLine._meta
    timestamp = meta.get_field("timestamp")
    whole_seconds: dict[int, str] = {}

    def to_db(seconds: float) -> Any:
        # Once per second of log, not per line: the column is text, the microseconds are appended.
        whole = int(seconds)
        if (text := whole_seconds.get(whole)) is None:
            text = whole_seconds[whole] = str(timestamp.get_db_prep_value(as_datetime(whole), connection))
        return "%s.%06d" % (text, (seconds - whole) * 1e6)  # noqa: UP031 (%d truncates as int() does, in one C call)

    return meta.get_field("run").target_field.get_db_prep_value(run_id, connection), to_db


def store_lines(rows: list[list]) -> None:
    """Insert rows built with `row_constants`: COPY on PostgreSQL, one `executemany` elsewhere.

    Not `bulk_create`: building and compiling model instances costs several times what
    the database does (bench/p1_log_ingestion.py measures the difference).
    """
    if not rows:
        return
    meta = LogLine._meta
    quote = connection.ops.quote_name
    names = ("run", "seq", "timestamp", "level", "message")
    column_of = {field.name: field.column for field in meta.concrete_fields}
    columns = ", ".join(quote(column_of[name]) for name in names)
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s)"  # noqa: S608 (names from the model)
            cursor.executemany(sql, rows)
