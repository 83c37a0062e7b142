"""When the trainer wrote what the platform reads: log lines and metric points keep the trainer's time.

The platform may read a line seconds after it was written, or, after its own restart,
hours after: the time of reading says nothing about training. Times, best first:

- a log line's own prefix: LLaMA-Factory's `[INFO|2025-06-01 12:34:56]`, transformers'
  `[INFO|trainer.py:2345] 2025-06-01 12:34:56,250 >>` (LLaMA-Factory turns it on), Python
  logging's `2025-06-01 12:34:56,123`, ISO 8601 with a zone, transformers' example
  scripts' `06/01/2025 12:34:56`, the platform's own lines. A time without a zone is
  this host's local time (the trainer's, for a local run);
- LLaMA-Factory's `trainer_log.jsonl`: `elapsed_time` counted from when its training
  began, which the file's modification time dates (`ElapsedClock`);
- `trainer_state.json`'s log history has steps but no times: a step gets the time
  it was seen at elsewhere in the run (`StepTimes`);
- a line without a time of its own (a printed loss dict, a tqdm bar, a warning) gets one from
  the timed evidence around it in the log (`Timeline`): the nearest timed lines before and after
  it (a prefix; a printed metric dict whose step `trainer_log.jsonl` dates), interpolated by its
  byte position between them; the file's modification time, spread over the bytes since the
  last timed line, only where no timed line follows; the last pass's last timed line and end
  of file carry over in `ingest_state`, so a line read after a restart sits between them;
- the time of reading only where none of these says anything (a GPU reading).

Times are seconds since the epoch (floats) while reading, so `ingest_state` holds them
as JSON numbers.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

# At the start of a line, after an optional `[rank0]: ` and a level (`[INFO|`, `INFO: [platform] `, or
# transformers' explicit format `[INFO|trainer.py:2345] `, which LLaMA-Factory turns on): a date and time,
# with fractions and a zone when they are there.
_ISO_PREFIX = re.compile(
    r"(?:\[rank\d+\]:\s*)?(?:\[[A-Z]+\|[\w.-]+:\d+\]\s|\[?[A-Z]+[|:]\s*(?:\[platform\]\s*)?)?"
    r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?\s?(Z|[+-]\d{2}:?\d{2})?(?![\d:])"
)
_US_PREFIX = re.compile(r"(?:\[rank\d+\]:\s*)?(\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2}):(\d{2})(?![\d:])")
# How a line with a time in front can start: a digit, `[rank`, a level and a bar right before a digit
# (`[INFO|2025-…`) or a source line and a digit (`[INFO|trainer.py:12] 2025-…`), or the platform's own
# level. One anchored match rejects the usual line (printed dicts, bars) before the date patterns run.
_MAY_HAVE_TIME = re.compile(r"\d|\[rank|\[[^|]{0,10}\|(?:\d|[\w.-]+:\d+\] \d)|(?:INFO|WARNING|ERROR): \[platform\]")
# Steps remembered for `trainer_state.json` (a run logs every few steps; this is hours of them).
MAX_STEP_TIMES = 2048


def prefix_time(line: str) -> float | None:
    """The time a log line says it was written at, or None."""
    if not _MAY_HAVE_TIME.match(line):
        return None
    try:
        if match := _ISO_PREFIX.match(line):
            year, month, day, hour, minute, second, fraction, zone = match.groups()
            micro = int(fraction.ljust(6, "0")) if fraction else 0
            whole = _whole_seconds(year, month, day, hour, minute, second, zone)
            # The same float `datetime.timestamp()` gives: it divides microseconds when there is a zone,
            # and adds a fraction to local seconds when there is none.
            return (whole * 1_000_000 + micro) / 1_000_000 if zone else whole + micro / 1e6
        if (line[0].isdigit() or line.startswith("[rank")) and (match := _US_PREFIX.match(line)):
            month, day, year, hour, minute, second = match.groups()
            return float(_whole_seconds(year, month, day, hour, minute, second, None))
    except ValueError:  # month 13, say: not a time after all
        return None
    return None


@functools.lru_cache(maxsize=4096)
def _whole_seconds(year: str, month: str, day: str, hour: str, minute: str, second: str, zone: str | None) -> int:
    """Seconds since the epoch at a whole second of a prefix; once per second of log, not per line."""
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    if zone:
        offset = "+00:00" if zone == "Z" else (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
        moment = datetime.fromisoformat(f"{moment.isoformat()}{offset}")
    return int(moment.timestamp())  # naive: this host's local time (the process's zone, set once by the settings)


class Timeline:
    """When each line of one read of a log was written, from the known points around it.

    A known point is (byte offset in the log, time the bytes up to it were written): the last timed
    line of an earlier pass and the end of the file at that pass's read (both from `state`), this
    read's timed lines (`add`), and the end of the file now at its modification time (`close`).
    A line's time is interpolated at its offset between the known points before and after it, and
    the last one's where none follows. A modification time bounds every point before it (the bytes
    up to the size were all written by then; a record's time is only good to its second), and times
    never go back: a point earlier than one before it counts as that one's time (a prefix keeps only
    its whole second).
    """

    # The known points kept in `state` between passes.
    STATE_KEY = "known"

    def __init__(self, state: MutableMapping[str, Any], *, start: int, since: float) -> None:
        """`start`: the offset this read begins at; `since`: when the run started (the first read's first point)."""
        self.state = state
        earlier = state.get(self.STATE_KEY)
        if earlier is None:
            # A state kept before known points were: the time the last read ended at, or the latest prefix.
            earlier = [[start, max(float(state.pop("time", since)), float(state.pop("latest", since)))]]
        # (offset, time, whether it is a modification time): those after `start` are, of earlier reads.
        self.points: list[tuple[float, float, bool]] = [
            (float(offset), float(at), offset > start) for offset, at in earlier
        ]
        self._offsets: list[float] = []
        self._times: list[float] = []

    def add(self, offset: float, at: float) -> None:
        """A line of this read ending at `offset` was written at `at`."""
        self.points.append((offset, at, False))

    def close(self, *, size: int, modified: float | None, end: int) -> None:
        """The file was `size` bytes when last modified at `modified`; this read stopped at `end`.

        Fixes the points (later `add`s are ignored) and keeps in `state` those the next read needs:
        the last at or before `end`, and the first and last after it.
        """
        if modified is not None:
            self.points.append((float(size), modified, True))
        self.points.sort(key=lambda point: point[0])  # by offset; the order of times is the trainer's business
        bound, bounded = float("inf"), []
        for _, at, modification in reversed(self.points):
            bound = min(bound, at) if modification else bound
            bounded.append(min(at, bound))
        latest = float("-inf")
        for (offset, _, _), at in zip(self.points, reversed(bounded), strict=True):
            latest = max(latest, at)
            self._offsets.append(offset)
            self._times.append(latest)
        before = bisect.bisect_right(self._offsets, end)
        kept = [[offset, at] for offset, at in zip(self._offsets, self._times, strict=True)]
        after = kept[before:]
        self.state[self.STATE_KEY] = kept[before - 1 : before] + after[:1] + after[1:][-1:]

    def at(self, offset: float) -> float:
        """The time of a line ending at `offset` (after `close`)."""
        index = bisect.bisect_right(self._offsets, offset) - 1
        if index < 0 or index == len(self._offsets) - 1:
            return self._times[max(index, 0)]
        return self._between(index, offset)

    def times_at(self, offsets: list[float]) -> list[float]:
        """The times of lines ending at `offsets`, given in ascending order (after `close`).

        One comprehension per stretch between two known points: a read may hold 100,000 lines.
        """
        points, times, found, done = self._offsets, self._times, [], 0
        for index in range(len(points) - 1):
            upto = bisect.bisect_left(offsets, points[index + 1], lo=done)
            if upto > done:
                start, at, rate = points[index], times[index], self._rate(index)
                found.extend([at + (offset - start) * rate for offset in offsets[done:upto]])
                done = upto
        found.extend([times[-1]] * (len(offsets) - done))
        return found

    def _between(self, index: int, offset: float) -> float:
        return self._times[index] + (offset - self._offsets[index]) * self._rate(index)

    def _rate(self, index: int) -> float:
        """Seconds per byte from known point `index` to the next."""
        width = self._offsets[index + 1] - self._offsets[index]
        return (self._times[index + 1] - self._times[index]) / width if width > 0 else 0.0


def as_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class ElapsedClock:
    """Times of LLaMA-Factory's records: `elapsed_time` after when its training began.

    That beginning is dated by the file: the last record read was written at about the
    file's modification time. `elapsed_time` is in whole seconds, cut down, so each reading's
    estimate of the beginning (modification time less elapsed seconds) falls within the second
    after it. The earliest and the latest estimates (in `state`) bracket that second, and a
    record is dated in the middle of its second: within half a second once readings have fallen
    on different fractions of a second. A reading more than a second after the earliest was
    not of the record just written (the file grew meanwhile) and is held to that second.
    """

    def __init__(self, state: MutableMapping[str, Any]) -> None:
        self.state = state

    def observe(self, *, last_elapsed: float | None, modified: float) -> None:
        if last_elapsed is None:
            return
        estimate = modified - last_elapsed
        began = min(self.state.get("began", estimate), estimate)
        latest = min(max(self.state.get("began_latest", estimate), estimate), began + 1)
        self.state.update(began=began, began_latest=latest)

    def at(self, elapsed: float | None) -> float | None:
        began = self.state.get("began")
        if began is None or elapsed is None:
            return None
        return (began + self.state.get("began_latest", began)) / 2 + elapsed


class StepTimes:
    """When each step was reached, as the run's other sources said; for sources without times."""

    def __init__(self, state: MutableMapping[str, Any]) -> None:
        self.times: dict[str, float] = state.setdefault("step_times", {})
        # The steps whose time a record that carries its own gave (LLaMA-Factory's): no sighting moves them.
        self.dated: dict[str, bool] = state.setdefault("dated_steps", {})
        # When such a record of a step's training loss was written: its printed loss dict was written with it
        # (the step's evaluation and the end-of-training summary come later, in records of the same step).
        self.losses: dict[str, float] = state.setdefault("loss_times", {})

    def learn(self, step: int, at: float, *, dated: bool = False) -> None:
        """`at`: when `step` was seen (the earliest sighting counts), or, `dated`, when the trainer wrote it."""
        key = str(step)
        if dated or (key not in self.dated and (key not in self.times or at < self.times[key])):
            self.times[key] = at
        if dated:
            self.dated[key] = True
        if len(self.times) > MAX_STEP_TIMES:
            for old in sorted(self.times, key=int)[: len(self.times) - MAX_STEP_TIMES]:
                del self.times[old]
                self.dated.pop(old, None)

    def learn_loss(self, step: int, at: float) -> None:
        """The trainer wrote `step`'s training loss at `at`, its record says (the latest record of it counts)."""
        self.losses[str(step)] = at
        if len(self.losses) > MAX_STEP_TIMES:
            for old in sorted(self.losses, key=int)[: len(self.losses) - MAX_STEP_TIMES]:
                del self.losses[old]

    def loss_at(self, step: int) -> float | None:
        """When the trainer wrote `step`'s training loss, where a record with its own time said so."""
        return self.losses.get(str(step))

    def at_or(self, step: int, fallback: float) -> float:
        known = self.at(step)
        return fallback if known is None else known

    def at(self, step: int) -> float | None:
        """The time `step` was reached: known, else between the steps around it, else None."""
        if (known := self.times.get(str(step))) is not None:
            return known
        steps = sorted(int(key) for key in self.times)
        before = [item for item in steps if item < step]
        after = [item for item in steps if item > step]
        if not before or not after:
            return None
        low, high = before[-1], after[0]
        low_time, high_time = self.times[str(low)], self.times[str(high)]
        return low_time + (high_time - low_time) * (step - low) / (high - low)
