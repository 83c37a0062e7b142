"""A run's ETA follows its step rate over recent steps: one slow step does not make it jump."""

from __future__ import annotations

from runs.ingest.eta import ETA_WINDOW_SECONDS, windowed_eta


def readings(state: dict, steps: list[tuple[int, float]], *, total: int = 1000, trainer_eta=None) -> list:
    return [windowed_eta(state, current=s, total=total, at=t, trainer_eta=trainer_eta) for s, t in steps]


def test_it_estimates_from_the_rate_over_the_window():
    state: dict = {}
    etas = readings(state, [(step, step * 2.0) for step in range(0, 101, 10)])  # 2 s a step
    assert etas[-1] == 900 * 2.0


def test_one_slow_step_moves_it_a_little_not_by_the_slow_steps_rate():
    state: dict = {}
    steady = readings(state, [(step, step * 2.0) for step in range(0, 151, 10)])[-1]
    after_slow = readings(state, [(151, 150 * 2.0 + 60)])[0]  # a checkpoint save: 60 s for one step
    assert steady == 850 * 2.0
    last_step_rate = 60 * (1000 - 151)
    assert after_slow < steady * 1.25 and after_slow < last_step_rate / 10


def test_it_follows_a_change_of_pace_once_the_window_has_passed():
    state: dict = {}
    readings(state, [(step, step * 1.0) for step in range(0, 301, 10)])  # 1 s a step for 300 s
    start = 300.0
    later = [(300 + step, start + step * 4.0) for step in range(10, 201, 10)]  # then 4 s a step for 800 s
    assert later[-1][1] - start > ETA_WINDOW_SECONDS
    assert readings(state, later)[-1] == (1000 - 500) * 4.0


def test_it_keeps_the_trainers_estimate_until_the_readings_span_long_enough():
    state: dict = {}
    assert readings(state, [(5, 0.0), (8, 0.5)], total=20, trainer_eta=10.0) == [10.0, 10.0]


def test_it_starts_again_when_a_resumed_trainer_goes_back_to_an_earlier_step():
    state: dict = {}
    readings(state, [(500, 0.0), (600, 100.0)])
    assert readings(state, [(100, 200.0), (110, 240.0)])[-1] == (1000 - 110) * 4.0
