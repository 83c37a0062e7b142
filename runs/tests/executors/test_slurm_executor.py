"""The Slurm executor against a real one-node cluster (scripts/services/slurm.sh).

The cluster has two fake GPUs (character devices), so `--gres=gpu:N` makes Slurm
set CUDA_VISIBLE_DEVICES; memory is enforced with cgroups where the host allows.
Runs are driven through the executor interface alone, with the stand-in trainer
`executor_trainer.py`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runs.executors.base import LaunchError, ProcessState
from runs.executors.slurm import SlurmExecutor
from runs.executors.slurm_engine import gres_gpus, observation_for, partition_gres, sbatch_options
from runs.models import Run

TRAINER = str(Path(__file__).parents[1] / "fixtures" / "executor_trainer.py")


def trainer_argv(*args: str) -> list[str]:
    return [sys.executable, TRAINER, *args]


def observe(run):
    return SlurmExecutor().observe(Run.objects.get(pk=run.pk))


def ended(run):
    observation = observe(run)
    return observation if observation.state is ProcessState.EXITED else None


def log_of(spec) -> str:
    return spec.log_path.read_text() if spec.log_path.exists() else ""


def slurm_job(job_id: str) -> str:
    return subprocess.run(["scontrol", "--oneliner", "show", "job", job_id], capture_output=True, text=True).stdout


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (one waiting to be reaped holds nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


def launched(executor_run, *args, **kwargs):
    run, spec = executor_run("slurm", *args, **kwargs)
    run.executor_state = SlurmExecutor().launch(run, spec)
    run.save()
    return run, spec


@pytest.mark.slurm
def test_it_submits_the_argv_with_a_gpu_and_follows_the_log_to_completion(slurm_cluster, executor_run, poll):
    hostile = "a b; $(touch /tmp/llmp-pwned) `id`"
    run, spec = executor_run("slurm", trainer_argv("--steps", "6", "--step-seconds", "0.4", hostile))
    run.resources = {"gpu_count": 1}
    run.executor_state = SlurmExecutor().launch(run, spec)
    run.save()

    # Followed while it runs: the log grows before the job ends.
    poll(lambda: "'loss'" in log_of(spec) and observe(run).state is ProcessState.RUNNING, what="a loss line")
    observation = poll(lambda: ended(run), what="the job to end")

    assert observation.exit_code == 0
    log = log_of(spec)
    # Slurm picked one of the node's two GPUs (which one depends on other jobs), not the platform.
    assert re.search(r"^CUDA_VISIBLE_DEVICES=[01]$", log, re.MULTILINE), log
    assert f'args=["{hostile}"]' in log.replace('\\"', '"')
    assert f"cwd={spec.cwd}" in log
    assert "done, exiting with 0" in log
    assert not os.path.exists("/tmp/llmp-pwned")
    job = slurm_job(run.executor_state["job_id"])
    assert "JobState=COMPLETED" in job
    assert f"JobName=llmp-{run.pk}" in job


@pytest.mark.slurm
def test_it_reports_the_exit_code_of_a_failed_job(slurm_cluster, executor_run, poll):
    run, _ = launched(executor_run, trainer_argv("--steps", "1", "--exit-code", "3"))

    observation = poll(lambda: ended(run), what="the job to end")

    assert observation.exit_code == 3
    assert "FAILED, exit code 3" in observation.reason


@pytest.mark.slurm
def test_it_reports_a_job_over_its_memory_limit_as_out_of_memory(slurm_cluster, executor_run, poll):
    if "proctrack/cgroup" not in Path(os.environ["SLURM_CONF"]).read_text():
        pytest.skip("this host has no memory cgroups, so Slurm cannot enforce --mem")
    options = {"mem": "100M"}
    run, _ = launched(executor_run, trainer_argv("--allocate-mb", "400", "--steps", "1"), options=options)

    observation = poll(lambda: ended(run), what="the job to end")

    assert "ran out of memory" in observation.reason
    assert "OUT_OF_MEMORY" in observation.reason
    assert observation.exit_code != 0


@pytest.mark.slurm
@pytest.mark.parametrize("ignore_sigterm", [False, True], ids=["honours-sigterm", "ignores-sigterm"])
def test_it_cancels_a_running_job_with_sigterm_then_for_good(slurm_cluster, executor_run, poll, ignore_sigterm):
    args = ("--steps", "1000", "--step-seconds", "0.2", *(["--ignore-sigterm"] if ignore_sigterm else []))
    run, spec = launched(executor_run, trainer_argv(*args))
    child_pid = int(
        poll(lambda: next((ln[10:] for ln in log_of(spec).splitlines() if ln.startswith("child_pid=")), None))
    )

    assert SlurmExecutor().cancel(Run.objects.get(pk=run.pk), grace=1.0) is True

    assert not alive(child_pid), "the trainer's child was left running"
    job = slurm_job(run.executor_state["job_id"])
    if ignore_sigterm:
        assert "JobState=CANCELLED" in job
    else:
        assert "got SIGTERM, saving and exiting" in log_of(spec)
    assert observe(run).state is ProcessState.EXITED


@pytest.mark.slurm
def test_it_shows_a_job_waiting_for_gpus_as_pending_and_cancels_it_before_it_starts(slurm_cluster, executor_run, poll):
    holder, _ = executor_run("slurm", trainer_argv("--steps", "1000"))
    holder.resources = {"gpu_count": 2}
    holder.executor_state = SlurmExecutor().launch(holder, _)
    holder.save()
    waiting, spec = executor_run("slurm", trainer_argv("--steps", "1"))
    waiting.resources = {"gpu_count": 2}
    waiting.executor_state = SlurmExecutor().launch(waiting, spec)
    waiting.save()
    try:
        poll(lambda: observe(holder).state is ProcessState.RUNNING, what="the first job to run")
        observation = poll(lambda: (seen := observe(waiting)).reason.endswith("(Resources).") and seen)
        assert observation.state is ProcessState.PENDING
        assert observation.reason == f"Slurm job {waiting.executor_state['job_id']} is pending (Resources)."

        assert SlurmExecutor().cancel(waiting, grace=1.0) is True
        assert "JobState=CANCELLED" in slurm_job(waiting.executor_state["job_id"])
        assert log_of(spec) == ""  # never started
    finally:
        SlurmExecutor().cancel(holder, grace=0.5)


@pytest.mark.slurm
def test_it_keeps_a_job_running_while_slurm_does_not_answer(
    slurm_cluster, executor_run, poll, tmp_path, monkeypatch, settings
):
    settings.SUPERVISOR_INTERVAL_SECONDS = 0.0  # no listing of all jobs reused from before
    run, _ = launched(executor_run, trainer_argv("--steps", "1000", "--step-seconds", "0.2"))
    poll(lambda: observe(run).state is ProcessState.RUNNING, what="the job to run")
    # The client tools pointed at ports nobody listens on: as if slurmctld and slurmdbd restarted.
    config = Path(os.environ["SLURM_CONF"]).read_text()
    away = re.sub(r"(SlurmctldPort|AccountingStoragePort)=\d+", r"\1=1", config)
    (tmp_path / "slurm.conf").write_text(away)
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "slurm.conf"))

    assert observe(run).state is ProcessState.RUNNING  # its job runs on; nothing says otherwise

    monkeypatch.setenv("SLURM_CONF", slurm_cluster["SLURM_CONF"])
    assert SlurmExecutor().cancel(run, grace=0.5) is True


@pytest.mark.slurm
def test_it_hands_the_job_the_platform_environment_less_its_secrets(slurm_cluster, executor_run, poll, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "the-platform-secret")
    monkeypatch.setenv("HF_HOME", "/models/hf-cache")
    run, spec = launched(executor_run, ["sh", "-c", 'echo "secret=${SECRET_KEY:-withheld} hf=$HF_HOME"'])

    assert poll(lambda: ended(run), what="the job to end").exit_code == 0
    assert "secret=withheld hf=/models/hf-cache" in log_of(spec)


@pytest.mark.slurm
def test_it_dumps_the_stacks_of_the_job_s_python_processes_on_its_node_and_says_why_when_it_cannot(
    slurm_cluster, executor_run, poll, settings, tmp_path
):
    run, spec = launched(executor_run, trainer_argv("--steps", "1000", "--step-seconds", "0.2"))
    poll(lambda: "child_pid=" in log_of(spec), what="the trainer to start")
    job_id = run.executor_state["job_id"]

    dump = SlurmExecutor().stack_dump(run)

    # The trainer alone: not the wrapper's shell, nor the `sleep` child the trainer started.
    assert dump.count("--- pid ") == 1, dump
    assert "main (" in dump and "executor_trainer.py" in dump, dump

    settings.SLURM_PY_SPY = absent = str(tmp_path / "no-py-spy")
    missing = SlurmExecutor().stack_dump(run)
    assert missing.startswith(f"No stack dump: py-spy ({absent}, setting SLURM_PY_SPY) does not run on node "), missing
    assert "No such file or directory" in missing

    refusing = tmp_path / "refusing-py-spy"  # the node shares this file system
    refusing.write_text(
        '#!/bin/sh\n[ "$1" = --version ] && exit 0\n'
        "echo 'Permission Denied: try running again with elevated permissions' >&2\nexit 1\n"
    )
    refusing.chmod(0o755)
    settings.SLURM_PY_SPY = str(refusing)
    refused = SlurmExecutor().stack_dump(run)
    # What py-spy said, beside srun's own line about the exit code (in either order).
    assert ": py-spy could not read it (exit 1): " in refused and "Permission Denied: try running" in refused, refused

    assert SlurmExecutor().cancel(run, grace=0.5) is True
    assert SlurmExecutor().stack_dump(run) == f"No stack dump: Slurm job {job_id} is not running (FAILED).\n"


@pytest.mark.slurm
def test_it_explains_what_sbatch_refused(slurm_cluster, executor_run):
    run, spec = executor_run("slurm", trainer_argv(), options={"partition": "no-such-partition"})

    with pytest.raises(LaunchError, match=r"sbatch refused the job: .*invalid partition"):
        SlurmExecutor().launch(run, spec)


def test_it_takes_sbatch_options_from_settings_and_the_project(settings, executor_run):
    settings.SLURM_PARTITION = "gpu"
    settings.SLURM_TIME_LIMIT = "2:00:00"
    settings.SLURM_EXTRA_ARGS = "--exclusive --comment='llm platform'"
    _, spec = executor_run("slurm", ["true"], options={"partition": "a100", "mem": "64G", "image": "ignored"})

    assert sbatch_options(spec, {"gpu_count": 4}) == [
        "--partition=a100",
        "--time=2:00:00",
        "--mem=64G",
        "--gres=gpu:4",
        "--exclusive",
        "--comment=llm platform",
    ]


def test_it_asks_slurm_for_gpus_of_the_run_s_gpu_type(executor_run):
    _, spec = executor_run("slurm", ["true"])

    assert sbatch_options(spec, {"gpu_count": 2, "gpu_type": "a100"}) == ["--gres=gpu:a100:2"]
    with pytest.raises(LaunchError, match="cannot be a Slurm GPU type"):
        sbatch_options(spec, {"gpu_count": 1, "gpu_type": "a100:2,gpu:h100"})


def test_it_refuses_a_project_option_that_would_smuggle_in_another_sbatch_option(executor_run):
    _, spec = executor_run("slurm", ["true"], options={"account": "team --output=/etc/passwd"})

    with pytest.raises(LaunchError, match="'account' has an unusable value"):
        sbatch_options(spec, {})


@pytest.mark.parametrize(
    ("state", "exit_code", "why"),
    [
        ("TIMEOUT", "0:15", "hit its time limit (raise the executor option 'time'"),
        ("OUT_OF_MEMORY", "0:125", "ran out of memory"),
        ("NODE_FAIL", "0:0", "was lost with its node"),
        ("CANCELLED by 0", "0:15", "was cancelled outside the platform"),
        ("FAILED", "3:0", "failed (FAILED, exit code 3)"),
    ],
)
def test_it_maps_slurm_end_states_to_a_failure_with_a_reason(state, exit_code, why):
    observation = observation_for("42", state, exit_code, "None")

    assert observation.state is ProcessState.EXITED
    assert observation.exit_code == int(exit_code.split(":")[0])  # as Slurm reports it
    assert observation.reason.startswith(f"Slurm job 42 {why}")


def test_it_maps_pending_running_and_completed_jobs():
    assert observation_for("7", "PENDING", "0:0", "Priority").state is ProcessState.PENDING
    assert observation_for("7", "COMPLETING", "0:0", "None").state is ProcessState.RUNNING
    assert observation_for("7", "COMPLETED", "0:0", "None") == observation_for("7", "COMPLETED+", "0:0", "")
    assert observation_for("7", "COMPLETED", "0:0", "None").exit_code == 0


def test_it_reads_a_nodes_gpus_from_its_gres():
    assert gres_gpus("gpu:a100:2(S:0-1),gpu:l4:1,shard:8") == {"a100": 2, "l4": 1}
    assert gres_gpus("gpu:4,gpu:tesla:no_consume:2") == {"": 4, "tesla": 2}
    assert gres_gpus("(null)") == {}


def test_it_leaves_a_gpu_request_unchecked_when_sinfo_cannot_answer(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Slurm client here

    assert partition_gres("debug") is None
