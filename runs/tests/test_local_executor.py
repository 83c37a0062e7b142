"""runs.executors.local: launch, observe by pid and start time, cancel a group."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmplatform.processes import group_members, read_exit_code, read_start_time, spawn
from llmplatform.testing import wait_for
from runs.executors.base import LaunchError, LaunchSpec, ProcessState
from runs.executors.local import LocalExecutor
from runs.models import Run


def spec(tmp_path: Path, argv: list[str], cwd: Path | None = None) -> LaunchSpec:
    return LaunchSpec(
        argv=argv,
        cwd=cwd or tmp_path,
        env={"LLMP_RUN_ID": "x"},
        run_dir=tmp_path,
        log_path=tmp_path / "train.log",
        exit_code_path=tmp_path / "exit_code",
    )


def a_run(tmp_path: Path) -> Run:
    return Run(run_dir=str(tmp_path))


def test_it_runs_the_command_and_reads_its_exit_code(tmp_path):
    run = a_run(tmp_path)
    run.executor_state = LocalExecutor().launch(run, spec(tmp_path, ["sh", "-c", "echo $LLMP_RUN_ID; exit 7"]))

    wait_for(lambda: LocalExecutor().observe(run).state == ProcessState.EXITED)

    assert LocalExecutor().observe(run).exit_code == 7
    assert (tmp_path / "train.log").read_text() == "x\n"


def test_it_keeps_the_platforms_secrets_from_the_trainer(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    run = a_run(tmp_path)
    run.executor_state = LocalExecutor().launch(run, spec(tmp_path, ["sh", "-c", "echo key=$SECRET_KEY"]))

    wait_for(lambda: LocalExecutor().observe(run).state == ProcessState.EXITED)

    assert (tmp_path / "train.log").read_text() == "key=\n"


def test_it_never_mistakes_a_recycled_pid_for_the_trainer(tmp_path):
    """Our own pid is alive, but with another start time it is not the trainer."""
    run = a_run(tmp_path)
    start_time = read_start_time(os.getpid())
    assert start_time is not None
    run.executor_state = {"pid": os.getpid(), "start_time": start_time + 1, "pgid": os.getpid()}

    observation = LocalExecutor().observe(run)

    assert observation.state == ProcessState.EXITED
    assert observation.exit_code is None and observation.reason


def test_it_refuses_a_missing_working_directory(tmp_path):
    with pytest.raises(LaunchError, match="does not exist"):
        LocalExecutor().launch(a_run(tmp_path), spec(tmp_path, ["true"], cwd=tmp_path / "gone"))


@pytest.mark.parametrize("program", ["/nonexistent/trainer", "no-such-trainer", "./data.txt"])
def test_it_refuses_a_program_that_cannot_run_before_starting_it(tmp_path, program):
    (tmp_path / "data.txt").write_text("not a program\n")

    with pytest.raises(LaunchError, match=f"^command not found: {program}$"):
        LocalExecutor().launch(a_run(tmp_path), spec(tmp_path, [program]))
    assert not (tmp_path / "exit_code").exists(), "nothing was started"


def test_the_wrapper_says_which_program_it_could_not_run_without_its_own_internals(tmp_path):
    exit_code_path = tmp_path / "exit_code"
    spawn(
        ["/vanished/trainer", "x.yaml"],
        cwd=tmp_path,
        env={},
        log_path=tmp_path / "train.log",
        exit_code_path=exit_code_path,
    )

    wait_for(lambda: read_exit_code(exit_code_path) is not None)

    assert read_exit_code(exit_code_path) == 127
    assert (tmp_path / "train.log").read_text() == "ERROR: command not found: /vanished/trainer\n"


def test_it_cancels_the_whole_group(tmp_path):
    run = a_run(tmp_path)
    script = "sleep 60 & sleep 60"
    run.executor_state = LocalExecutor().launch(run, spec(tmp_path, ["sh", "-c", script]))
    wait_for(lambda: len(group_members(run.executor_state["pgid"])) >= 3)

    assert LocalExecutor().cancel(run, grace=1.0) is True

    assert group_members(run.executor_state["pgid"]) == []
