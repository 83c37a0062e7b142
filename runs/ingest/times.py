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
- otherwise the file's modification time, spread over the bytes read since the last
  pass (`spread`): a line written halfway between two passes gets a time halfway;
- the time of reading only where none of these says anything (a GPU reading).

Times are seconds since the epoch (floats) while reading, so `ingest_state` holds them
as JSON numbers.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, MutableMapping
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


def spread(weights: Iterable[int], *, since: float, until: float) -> list[float]:
    """A time for each of consecutive pieces (their sizes in `weights`) written between `since` and `until`,
    at the end of each, in proportion to the bytes before it."""
    done = list(itertools.accumulate(weights))
    scale = max(until - since, 0.0) / (done[-1] if done and done[-1] else 1)
    return [since + scale * position for position in done]


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
