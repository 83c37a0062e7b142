"""runs.executors.base: how an engine's view and the wrapper's exit code file make one observation.

The engine here is a stand-in that answers with fixed views (what scontrol says after a
time limit, a purged job): the rule under test is the shared lifecycle's, which no real
engine on this machine can be made to show on demand (Slurm's shortest time limit is a
minute). The real engines' own tests cover the rest.
"""

from __future__ import annotations

import signal
from pathlib import Path

from runs.executors.base import Executor, LaunchSpec, Observation, ProcessState
from runs.models import Run


class FixedViewEngine(Executor):
    kind = "fixed"
    handle = "job_id"

    def __init__(self, view: Observation) -> None:
        self.view = view

    def start(self, run: Run, spec: LaunchSpec) -> dict:
        return {"job_id": "1"}

    def state(self, run: Run) -> Observation:
        return self.view

    def signal(self, run: Run, sig: signal.Signals) -> None:
        pass

    def alive(self, run: Run) -> bool:
        return False


def ended_run(run_dir: Path, recorded: int | None) -> Run:
    run_dir.mkdir(exist_ok=True)
    if recorded is not None:
        (run_dir / "exit_code").write_text(f"{recorded}\n")
    return Run(run_dir=str(run_dir), executor_state={"job_id": "1"})


def test_it_fails_a_run_the_engine_ended_badly_even_when_the_trainer_exited_0(tmp_path):
    timeout = Observation(ProcessState.EXITED, 0, reason="Slurm job 1 hit its time limit (TIMEOUT, exit code 0).")

    observation = FixedViewEngine(timeout).observe(ended_run(tmp_path, recorded=0))

    assert observation == Observation(ProcessState.EXITED, None, timeout.reason)


def test_it_takes_the_recorded_exit_code_of_a_run_the_engine_forgot(tmp_path):
    purged = Observation(ProcessState.LOST, reason="Slurm no longer knows job 1.")

    assert FixedViewEngine(purged).observe(ended_run(tmp_path / "a", recorded=None)) == purged
    assert FixedViewEngine(purged).observe(ended_run(tmp_path / "b", recorded=3)) == Observation(ProcessState.EXITED, 3)
