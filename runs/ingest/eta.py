"""A run's ETA from its step rate over a window of recent readings.

The rate of the last step alone (or a trainer's estimate from it) jumps with every slow step
(an evaluation, a checkpoint save); the rate since the start lags behind a change of pace for
ever. The rate over the last ETA_WINDOW_SECONDS follows the pace and shrugs a single slow step off.
"""

from __future__ import annotations

from typing import Any

ETA_WINDOW_SECONDS = 300.0  # the readings the step rate is taken over
ETA_MIN_SPAN_SECONDS = 30.0  # shorter than this, the trainer's own estimate is the better one
MAX_READINGS = 120  # kept in the run's ingest state: a reading a pass at most


def windowed_eta(
    state: dict[str, Any], *, current: int, total: int | None, at: float, trainer_eta: float | None
) -> float | None:
    """Seconds left at `current` of `total` steps, reached at `at` (Unix seconds), from the readings
    kept in `state` (updated here); the trainer's estimate until the readings span ETA_MIN_SPAN_SECONDS."""
    readings: list[list[float]] = state.get("eta_window", [])
    if readings and current < readings[-1][0]:
        readings = []  # resumed from an earlier step: a new pace
    if not readings or current > readings[-1][0]:
        readings.append([current, at])
    # Drop readings before the window, keeping the last one before it as the window's start.
    while len(readings) > 2 and readings[1][1] <= at - ETA_WINDOW_SECONDS:
        readings.pop(0)
    readings = readings[-MAX_READINGS:]
    state["eta_window"] = readings
    (first_step, first_time), (last_step, last_time) = readings[0], readings[-1]
    steps, seconds = last_step - first_step, last_time - first_time
    if not total or steps <= 0 or (trainer_eta is not None and seconds < ETA_MIN_SPAN_SECONDS):
        return trainer_eta
    return round(seconds / steps * max(total - current, 0), 1)
