"""Runs as Slurm batch jobs; Slurm does their GPU scheduling (no ledger claims).

`sbatch --parsable` submits a fixed batch script with the run's argv as its
arguments, never a shell string (`--wrap` would be one): the script only hands
"$@" to the same exit-code wrapper as local runs. Output goes to the run's log
file (`--output`, appended), in the run's working directory (`--chdir`), with
`--gres=gpu:N` from the run's resources and partition, account, time limit, QoS,
memory, CPUs and constraint from settings (SLURM_*) or the project's executor
options; SLURM_EXTRA_ARGS adds operator-chosen sbatch options. The run folder must
be on a file system the compute nodes share.

State comes from `scontrol show job` while slurmctld remembers the job, then from
`sacct`, then from the exit code file; Slurm's states are mapped onto the run's
(PENDING → queued, RUNNING → running, COMPLETED; FAILED, CANCELLED, TIMEOUT,
OUT_OF_MEMORY, NODE_FAIL... → exited, failed, with a sentence saying why). Cancel:
`scancel --full --signal=TERM` (the trainer runs in the batch step, which a plain
`--signal` skips), the grace period, then `scancel`, and the job is verified ended.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from llmplatform.processes import EXIT_CODE_WRAPPER, read_exit_code
from runs.executors.base import Executor, LaunchError, LaunchSpec, Observation, ProcessState
from runs.executors.local import WITHHELD_VARIABLES

if TYPE_CHECKING:
    from runs.models import Run

# $1 = the exit code file, then the argv: both reach the wrapper as its $0 and "$@".
# The wrapper's own exit status is its last `mv`; Slurm is told the program's.
JOB_WRAPPER = EXIT_CODE_WRAPPER + '; exit "$code"'
BATCH_SCRIPT = (
    f'#!/bin/sh\n# Submitted by the LLM training platform.\nexec /bin/sh -c {shlex.quote(JOB_WRAPPER)} "$@"\n'
)

# Project executor options that become sbatch options; values are checked against
# SAFE_VALUE so that a project setting can never smuggle in another option.
SBATCH_OPTIONS = {
    "partition": "--partition",
    "account": "--account",
    "time": "--time",
    "qos": "--qos",
    "mem": "--mem",
    "cpus_per_task": "--cpus-per-task",
    "constraint": "--constraint",
}
SAFE_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:,+\-=@\[\]|&]*")

PENDING_STATES = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
RUNNING_STATES = {"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"}
WHY_IT_ENDED = {
    "FAILED": "failed",
    "CANCELLED": "was cancelled outside the platform (scancel)",
    "TIMEOUT": "hit its time limit (raise the executor option 'time' or SLURM_TIME_LIMIT)",
    "OUT_OF_MEMORY": "ran out of memory (ask for more with the executor option 'mem')",
    "NODE_FAIL": "was lost with its node (NODE_FAIL)",
    "BOOT_FAIL": "could not boot its node (BOOT_FAIL)",
    "PREEMPTED": "was preempted by a job of higher priority",
    "DEADLINE": "missed its deadline",
}
POLL_INTERVAL_S = 0.5


class SlurmUnreachable(LaunchError):
    """slurmctld (and accounting) do not answer; jobs run on meanwhile."""


def _slurm(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=settings.SLURM_COMMAND_TIMEOUT_SECONDS, check=False
        )
    except FileNotFoundError as exc:
        raise LaunchError(f"{argv[0]} is not installed here: install Slurm's client tools (slurm-client).") from exc
    except subprocess.TimeoutExpired as exc:
        raise SlurmUnreachable(f"{argv[0]} did not answer within {exc.timeout} s: is slurmctld up?") from exc


def sbatch_options(spec: LaunchSpec, resources: dict[str, Any]) -> list[str]:
    """sbatch's options for a run: settings first, the project's options over them."""
    chosen = {
        "partition": settings.SLURM_PARTITION,
        "account": settings.SLURM_ACCOUNT,
        "time": settings.SLURM_TIME_LIMIT,
    }
    chosen.update({key: str(value) for key, value in spec.options.items() if key in SBATCH_OPTIONS})
    options = []
    for key, value in chosen.items():
        if not value:
            continue
        if not SAFE_VALUE.fullmatch(value):
            raise LaunchError(f"The Slurm option {key!r} has an unusable value {value!r}.")
        options.append(f"{SBATCH_OPTIONS[key]}={value}")
    gpu_count = int(resources.get("gpu_count") or 0)
    if gpu_count:
        options.append(f"--gres=gpu:{gpu_count}")
    return [*options, *shlex.split(settings.SLURM_EXTRA_ARGS)]


def parse_job_record(text: str) -> dict[str, str]:
    """`scontrol show job -o` prints one line of Key=Value pairs."""
    return dict(field.split("=", 1) for field in text.split() if "=" in field)


def observation_for(job_id: str, state: str, exit_code: str, reason: str, recorded: int | None) -> Observation:
    """Slurm's view of a job → the platform's (`recorded`: the wrapper's exit code file)."""
    state = state.split()[0].rstrip("+") if state else ""
    if state in PENDING_STATES:
        return Observation(ProcessState.PENDING, reason=f"Slurm job {job_id} is pending ({reason or 'queued'}).")
    if state in RUNNING_STATES:
        return Observation(ProcessState.RUNNING)
    code, _, signal = exit_code.partition(":")
    code = recorded if recorded is not None else int(code or 0)
    if state == "COMPLETED":
        return Observation(ProcessState.EXITED, code)
    why = WHY_IT_ENDED.get(state, f"ended {state}")
    detail = f"exit code {code}" + (f", signal {signal}" if signal not in {"", "0"} else "")
    # A trainer that exits 0 on SIGTERM (time limit, preemption) still did not finish.
    return Observation(ProcessState.EXITED, code or None, reason=f"Slurm job {job_id} {why} ({state}, {detail}).")


_jobs_listing: tuple[float, dict[str, dict[str, str]]] = (-1e9, {})


def _all_jobs() -> dict[str, dict[str, str]]:
    """Every job slurmctld remembers, by id; listed again once SUPERVISOR_INTERVAL_SECONDS have passed."""
    global _jobs_listing
    taken_at, jobs = _jobs_listing
    if time.monotonic() - taken_at >= settings.SUPERVISOR_INTERVAL_SECONDS:
        listed = _slurm("scontrol", "--oneliner", "show", "job")
        records = (parse_job_record(line) for line in listed.stdout.splitlines() if listed.returncode == 0)
        jobs = {record["JobId"]: record for record in records if "JobId" in record}
        _jobs_listing = (time.monotonic(), jobs)
    return jobs


class SlurmExecutor(Executor):
    kind = "slurm"
    queues_itself = True

    def launch(self, run: Run, spec: LaunchSpec) -> dict[str, Any]:
        script = spec.run_dir / "slurm_job.sh"
        script.write_text(BATCH_SCRIPT)
        spec.exit_code_path.unlink(missing_ok=True)
        argv = [
            "sbatch",
            "--parsable",
            f"--job-name=llmp-{run.name or run.pk}",
            f"--output={spec.log_path}",
            "--open-mode=append",
            f"--chdir={spec.cwd}",
            *sbatch_options(spec, run.resources or {}),
            str(script),
            str(spec.exit_code_path),
            *spec.argv,
        ]
        # The job gets the platform's environment, as a local run does, less its secrets; Slurm
        # picks the GPUs and sets CUDA_VISIBLE_DEVICES in the job itself.
        env = {name: value for name, value in os.environ.items() if name not in WITHHELD_VARIABLES}
        env.update(spec.env)
        env.pop("CUDA_VISIBLE_DEVICES", None)
        submitted = _slurm(*argv, env=env)
        if submitted.returncode != 0:
            raise LaunchError(f"sbatch refused the job: {submitted.stderr.strip() or submitted.stdout.strip()}")
        job_id = submitted.stdout.strip().split(";")[0]
        return {"job_id": job_id, "exit_code_path": str(spec.exit_code_path)}

    def observe(self, run: Run) -> Observation:
        job_id = run.executor_state["job_id"]
        recorded = read_exit_code(Path(run.executor_state["exit_code_path"]))
        try:
            record = self._job_record(job_id, fresh=False)
        except SlurmUnreachable:
            # Jobs run on while slurmctld restarts; their exit code file still tells an end.
            if recorded is not None:
                return Observation(ProcessState.EXITED, recorded)
            return Observation(ProcessState.RUNNING)
        except LaunchError as exc:
            return Observation(ProcessState.LOST, reason=str(exc))
        if record is not None:
            return observation_for(job_id, record["JobState"], record.get("ExitCode", ""), record["Reason"], recorded)
        if recorded is not None:
            return Observation(ProcessState.EXITED, recorded)
        return Observation(
            ProcessState.LOST,
            reason=f"Slurm no longer knows job {job_id} (purged from slurmctld, and no accounting answers).",
        )

    def cancel(self, run: Run, *, grace: float) -> bool:
        job_id = run.executor_state.get("job_id")
        if not job_id:
            return True  # never submitted
        try:
            if self._state(job_id) in RUNNING_STATES:
                _slurm("scancel", "--full", "--signal=TERM", job_id)
                if self._wait_ended(job_id, grace):
                    return True
            _slurm("scancel", job_id)
            return self._wait_ended(job_id, settings.SLURM_KILL_WAIT_SECONDS)
        except LaunchError:
            return False

    def watched_here(self, run: Run, hostname: str) -> bool:
        return True  # any host with Slurm's client tools may watch; the run's lease prevents doubles

    # --- helpers ---------------------------------------------------------------

    def _job_record(self, job_id: str, *, fresh: bool = True) -> dict[str, str] | None:
        """JobState, ExitCode, Reason from slurmctld, else from accounting; None when Slurm says it
        knows no such job (purged), SlurmUnreachable when neither answers. Not `fresh`: from one
        listing of all jobs shared by every run for a supervisor tick, so that watching many
        runs costs slurmctld one request per tick, not one per run."""
        if not fresh and (record := _all_jobs().get(job_id)) is not None:
            return record
        shown = _slurm("scontrol", "--oneliner", "show", "job", job_id)
        if shown.returncode == 0 and "JobState=" in shown.stdout:
            return parse_job_record(shown.stdout)
        accounted = _slurm(
            "sacct", "--noheader", "--parsable2", "--allocations", "--jobs", job_id, "--format=State,ExitCode,Reason"
        )
        line = (
            accounted.stdout.strip().splitlines()[0] if accounted.returncode == 0 and accounted.stdout.strip() else ""
        )
        if not line:
            if "Invalid job id" in shown.stderr:
                return None
            raise SlurmUnreachable(f"Slurm does not answer about job {job_id}: {shown.stderr.strip()}")
        state, exit_code, reason = [*line.split("|"), "", ""][:3]
        return {"JobState": state, "ExitCode": exit_code, "Reason": reason}

    def _state(self, job_id: str) -> str:
        record = self._job_record(job_id)
        return record["JobState"].split()[0].rstrip("+") if record else ""

    def _wait_ended(self, job_id: str, timeout: float) -> bool:
        """Until the job is neither pending nor running (COMPLETING included: processes remain)."""
        deadline = time.monotonic() + timeout
        while self._state(job_id) in PENDING_STATES | RUNNING_STATES:
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_INTERVAL_S)
        return True
