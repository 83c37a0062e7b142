"""Progress and metrics as each trainer writes them: one parser per format.

- tqdm bars in the log (`45%|████▌     | 45/100 [00:09<00:11, 4.80it/s]`),
- LLaMA-Factory's `trainer_log.jsonl` records,
- Hugging Face's `trainer_state.json` (`global_step`, `max_steps`, `log_history`),
- a plain `metrics.jsonl` any script appends to (`{"step": 10, "loss": 1.2}`).

The printed Hugging Face log dicts are parsed in `metrics` (they carry no step;
the log reader gives them the step of the training bar).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from runs.ingest.metrics import MetricSample, samples_from_dict


@dataclass(frozen=True)
class StepProgress:
    """Where a trainer is: step `current` of `total`, and its own estimate of the time left."""

    current: int
    total: int | None = None
    eta_seconds: float | None = None


def parse_clock(text: object) -> float | None:
    """Seconds in `H:MM:SS`, `MM:SS` or `D days, H:MM:SS` (LLaMA-Factory, tqdm); None if unreadable."""
    if not isinstance(text, str):
        return None
    days = 0
    if "day" in text:
        head, _, text = text.partition(",")
        try:
            days = int(head.split()[0])
        except (ValueError, IndexError):
            return None
    try:
        parts = [float(part) for part in text.strip().split(":")]
    except ValueError:
        return None
    if not 1 <= len(parts) <= 3:
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return days * 86400 + seconds


# --- tqdm -------------------------------------------------------------------
# `desc: 45%|bar| 45/100 [00:09<00:11, 4.80it/s]`; the bar itself may hold any glyphs.
_BAR = re.compile(
    r"^(?:(?P<desc>.*?):\s*)?\s*\d{1,3}%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)"
    r"(?:\s*\[(?P<elapsed>[\d:]+)<(?P<remaining>[\d:]+|\?)[^\]\r\n]*\])?"
)
# A bar without a total only counts: `Map: 1234it [00:01, 980.5it/s]`.
_COUNTER = re.compile(r"^(?:[^\[\]]*?:\s*)?\d+(?:\.\d+)?[kMG]?it \[[\d:]+(?:, [^\]]*)?\]")
# Bars that may be drawn but carry no training progress: described, and not as training.
_TRAINING_DESC = re.compile(r"train|step|epoch|iter", re.IGNORECASE)


def split_bar(text: str) -> tuple[str, str] | None:
    """(the bar, what follows it) if the line starts with a tqdm bar, else None.

    A logger writing while a bar is drawn lands on the bar's line, after it:
    `45%|████▌     | 45/100 [00:09<00:11, 4.80it/s][INFO|trainer.py:4071] >> Saving…`.
    """
    if "%|" in text:
        match = _BAR.match(text)
    elif "it [" in text:
        match = _COUNTER.match(text)
    else:
        return None
    if match is None:
        return None
    return text[: match.end()], text[match.end() :].strip()


def from_bar(text: str, *, nested: bool = False) -> StepProgress | None:
    """The training progress a bar shows; None for other bars (dataset maps, shard loading, evaluation)."""
    match = _BAR.match(text)
    if match is None or nested:
        return None
    desc = (match.group("desc") or "").strip()
    if desc and not _TRAINING_DESC.search(desc):
        return None
    remaining = match.group("remaining")
    return StepProgress(
        current=int(match.group("n")),
        total=int(match.group("total")) or None,
        eta_seconds=parse_clock(remaining) if remaining and remaining != "?" else None,
    )


# --- LLaMA-Factory trainer_log.jsonl ----------------------------------------
_LLAMAFACTORY_PROGRESS_KEYS = frozenset(
    {"current_steps", "total_steps", "percentage", "elapsed_time", "remaining_time"}
)
# LLaMA-Factory's short names, renamed to the Hugging Face ones so charts line up.
_LLAMAFACTORY_NAMES = {"lr": "learning_rate"}


def from_llamafactory_record(
    record: Mapping[str, object], *, began: float | None = None
) -> tuple[StepProgress | None, list[MetricSample]]:
    """Progress and points of one record; `began`: when its training began (its points are dated from it)."""
    step = _as_int(record.get("current_steps"))
    if step is None:
        return None, []
    progress = StepProgress(
        current=step,
        total=_as_int(record.get("total_steps")),
        eta_seconds=parse_clock(record.get("remaining_time")),
    )
    values = {
        _LLAMAFACTORY_NAMES.get(key, key): value
        for key, value in record.items()
        if key not in _LLAMAFACTORY_PROGRESS_KEYS
    }
    elapsed = parse_clock(record.get("elapsed_time"))
    at = began + elapsed if began is not None and elapsed is not None else None
    return progress, samples_from_dict(values, step=step, at=at)


# --- Hugging Face trainer_state.json ----------------------------------------
def from_trainer_state(
    state: Mapping[str, object], *, step_time: Callable[[int], float | None] = lambda step: None
) -> tuple[StepProgress | None, list[MetricSample]]:
    """Progress and the log history's points; `step_time` dates a step (the history has no times)."""
    step = _as_int(state.get("global_step"))
    progress = None
    if step is not None:
        progress = StepProgress(current=step, total=_as_int(state.get("max_steps")) or None)
    samples: list[MetricSample] = []
    history = state.get("log_history")
    if isinstance(history, list):
        for entry in history:
            if isinstance(entry, dict) and (entry_step := _as_int(entry.get("step"))) is not None:
                samples.extend(samples_from_dict(entry, step=entry_step, at=step_time(entry_step)))
    return progress, samples


# --- plain metrics.jsonl ----------------------------------------------------
_STEP_KEYS = ("step", "global_step", "current_steps", "iteration")


def from_metrics_record(
    record: Mapping[str, object], *, at: float | None = None
) -> tuple[StepProgress | None, list[MetricSample]]:
    """Progress and points of one record of a plain metrics file; `at`: when it was written, if known."""
    step_key = next((key for key in _STEP_KEYS if key in record), None)
    step = _as_int(record.get(step_key)) if step_key else None
    if step is None:
        return None, []  # a point needs a step; the format's one rule
    total = _as_int(record.get("total_steps") or record.get("max_steps"))
    progress = StepProgress(current=step, total=total or None) if total else None
    values = {key: value for key, value in record.items() if key not in (*_STEP_KEYS, "total_steps", "max_steps")}
    return progress, samples_from_dict(values, step=step, at=at)


# --- combining --------------------------------------------------------------
def furthest(observations: Iterable[StepProgress | None]) -> StepProgress | None:
    """The observation furthest along among those that know their total (else any)."""
    known = [item for item in observations if item is not None]
    with_total = [item for item in known if item.total]
    pool = with_total or known
    return max(pool, key=lambda item: item.current, default=None)


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None
