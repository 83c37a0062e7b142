"""Turning log lines into LogLine rows, and the progress and metrics printed among them.

Consecutive redraws of tqdm bars share one row, rewritten with the newest redraw,
so a bar shows up live without flooding the table. A printed Hugging Face log dict
carries no step: it gets the step of the training bar redrawn right after it
(`tqdm.write` redraws the bar at once), else of the last bar seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runs.ingest.levels import LevelClassifier
from runs.ingest.logfile import LogChunk
from runs.ingest.metrics import MetricSample, parse_log_dict, samples_from_dict
from runs.ingest.progress import StepProgress, from_bar, split_bar
from runs.models import LogLevel, LogLine


@dataclass
class LogBatch:
    rows: list[LogLine] = field(default_factory=list)
    bar_rewrite: tuple[int, str] | None = None  # (seq, text): a bar row from an earlier pass redrew
    samples: list[MetricSample] = field(default_factory=list)
    bar: StepProgress | None = None  # the training bar's latest reading


class LogStream:
    """Reads chunks one after another; `state` (a part of `Run.ingest_state`) carries over."""

    def __init__(self, *, run_id: Any, next_seq: int, state: dict[str, Any], now: datetime) -> None:
        self.run_id = run_id
        self.next_seq = next_seq
        self.state = state
        self.now = now
        self.levels = LevelClassifier(in_traceback=bool(state.get("traceback")))

    def feed(self, chunk: LogChunk, *, fallback_step: int | None) -> LogBatch:
        batch = LogBatch()
        bar_row: LogLine | None = None  # the row of an open bar created in this batch
        bar_seq: int | None = self.state.get("bar_seq")
        waiting: list[dict[str, object]] = []  # printed dicts waiting for their step

        for segment in chunk.segments:
            text = segment.text
            if (parts := split_bar(text)) is not None:
                bar_text, text = parts
                if reading := from_bar(bar_text, nested=segment.nested):
                    batch.bar = reading
                    batch.samples.extend(self._stamp(waiting, reading.current))
                    waiting = []
                if bar_row is not None:
                    bar_row.message = bar_text
                elif bar_seq is not None:
                    batch.bar_rewrite = (bar_seq, bar_text)
                else:
                    bar_row = self._row(batch, LogLevel.INFO, bar_text)
                    bar_seq = bar_row.seq
                if not text:
                    continue
            bar_row = bar_seq = None
            level = self.levels.classify(text)
            if text[0] == "{" and (logged := parse_log_dict(text)) is not None:
                waiting.append(logged)
            self._row(batch, level, text)

        tail = chunk.tail
        if tail and (parts := split_bar(tail.text)) and (reading := from_bar(parts[0], nested=tail.nested)):
            batch.bar = reading
        if waiting:
            step = batch.bar.current if batch.bar else self.state.get("bar_step", fallback_step)
            if step is not None:
                batch.samples.extend(self._stamp(waiting, step))

        self.state["bar_seq"] = bar_seq
        self.state["traceback"] = self.levels.in_traceback
        if batch.bar is not None:
            self.state["bar_step"] = batch.bar.current
        return batch

    def _row(self, batch: LogBatch, level: str, text: str) -> LogLine:
        row = LogLine(run_id=self.run_id, seq=self.next_seq, timestamp=self.now, level=level, message=text)
        self.next_seq += 1
        batch.rows.append(row)
        return row

    @staticmethod
    def _stamp(dicts: list[dict[str, object]], step: int) -> list[MetricSample]:
        return [sample for logged in dicts for sample in samples_from_dict(logged, step=step)]
